// maand hook helpers for Bun. Staged next to every hook script by maand:
//   import { isOneShot, putJobVariable } from "./maand";
// Every helper also answers to its Python (snake_case) name, as seed 001
// promises for both runtimes, so a hook ported from Python keeps its calls.
// The original maand's functions keep their names, parameters and return
// types (a fetch Response; the environment's strings, undefined when
// unset); maand's own helpers are added beside them. API calls send the
// session token and the X-ALLOCATION-ID / EVENT / COMMAND headers from the
// environment.

const env = (name: string, fallback = ""): string => process.env[name] ?? fallback;

/** A fetch `Response` (status, ok, json(), text(), re-readable) with maand's extras. */
export class ApiResponse extends Response {
  readonly #text: string;
  readonly #url: string;
  constructor(text: string, status: number, url: string) {
    const empty = text === "" || [101, 204, 205, 304].includes(status);
    super(empty ? null : text, { status });
    this.#text = text;
    this.#url = url;
  }
  override get url(): string {
    return this.#url;
  }
  override async text(): Promise<string> {
    return this.#text;
  }
  override async json(): Promise<any> {
    return this.#text ? JSON.parse(this.#text) : null;
  }
  /** The body as text, synchronously. */
  get bodyText(): string {
    return this.#text;
  }
  get statusCode(): number {
    return this.status;
  }
  get status_code(): number {
    return this.status;
  }
  raiseForStatus(): this {
    if (this.status >= 400) {
      let msg = this.#text;
      try {
        msg = JSON.parse(this.#text)?.error ?? msg;
      } catch {}
      throw new Error(`${this.status}: ${msg} (${this.#url})`);
    }
    return this;
  }
  raise_for_status(): this {
    return this.raiseForStatus();
  }
}

// Context, as the original: the environment's strings, undefined when unset.
export const allocationId = (): string | undefined => process.env.ALLOCATION_ID;
export const allocationIp = (): string | undefined => process.env.ALLOCATION_IP;
export const allocationIndex = (): string | undefined => process.env.ALLOCATION_INDEX;
export const isAllocationDisabled = (): boolean => process.env.DISABLED === "1";
export const commandEvent = (): string | undefined => process.env.EVENT;
export const commandName = (): string | undefined => process.env.COMMAND;
export const jobName = (): string | undefined => process.env.JOB;
// maand's own.
export const hookEvent = (): string => env("EVENT");
export const hookName = (): string => env("HOOK", env("COMMAND"));
/** True in exactly one process of an invocation: batch 0, allocation 0. */
export const isOneShot = (): boolean => env("BATCH_INDEX") === "0" && env("ALLOCATION_INDEX") === "0";
export const isSingleBatch = (): boolean => parseInt(env("BATCH_COUNT", "1"), 10) === 1;
export const isFirstBatch = (): boolean => parseInt(env("BATCH_INDEX", "0"), 10) === 0;

async function call(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<ApiResponse> {
  let url = `http://${env("HOOK_API_HOST", "127.0.0.1")}:${env("HOOK_API_PORT", "8080")}${path}`;
  // GET requests carry their fields as query parameters (fetch sends no GET body).
  const q: Record<string, string> = { ...(query ?? {}) };
  if (method === "GET" && body && typeof body === "object") {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) if (v != null) q[k] = String(v);
    body = undefined;
  }
  if (Object.keys(q).length) url += "?" + new URLSearchParams(q).toString();
  const headers: Record<string, string> = {
    "X-ALLOCATION-ID": env("ALLOCATION_ID"),
    EVENT: hookEvent(),
    COMMAND: env("COMMAND", hookName()),
    Authorization: "Bearer " + env("HOOK_API_TOKEN"),
  };
  let payload: string | undefined;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(url, { method, headers, body: payload });
  return new ApiResponse(await r.text(), r.status, url);
}

// KV.
export const getStoreValue = (namespace: string, key: string): Promise<Response> =>
  call("GET", "/kv", { namespace, key });
/** The value itself; throws when the key does not exist (as Python's get_kv_value). */
export async function getKvValue(namespace: string, key: string): Promise<string> {
  const r = await call("GET", "/kv", { namespace, key });
  return (await r.raiseForStatus().json()).value;
}
/** The value itself, or null when the key does not exist. */
export async function kvValueOrNull(namespace: string, key: string): Promise<string | null> {
  const r = await call("GET", "/kv", { namespace, key });
  if (r.status === 404) return null;
  return (await r.raiseForStatus().json()).value;
}
export const putRolloutOrder = (order: string | string[]): Promise<Response> =>
  call("PUT", "/kv", {
    namespace: `maand/job/${jobName()}`,
    key: "rollout_order",
    value: Array.isArray(order) ? order.map(String).filter(Boolean).join(",") : order,
  });
/** GET rollout_order of this job: the Response (as the original). */
export const getRolloutOrder = (): Promise<Response> => getStoreValue(`maand/job/${jobName()}`, "rollout_order");
/** This job's rollout order as a list of IPs ([] when unset). */
export async function rolloutOrder(): Promise<string[]> {
  return ((await kvValueOrNull(`maand/job/${jobName()}`, "rollout_order")) ?? "").split(",").filter((x) => x);
}
export const putJobVariable = (key: string, value: string, ttl = 0): Promise<Response> =>
  call("PUT", "/kv", { namespace: `vars/job/${jobName()}`, key, value: String(value), ...(ttl ? { ttl } : {}) });
export const putJobSecret = (key: string, value: string, ttl = 0): Promise<Response> =>
  call("PUT", "/kv/secret", { namespace: `secrets/job/${jobName()}`, key, value: String(value), ...(ttl ? { ttl } : {}) });
export const listJobKeys = (namespace?: string): Promise<Response> =>
  call("GET", "/kv/keys", namespace ? { namespace } : undefined);
export const deleteJobVariable = (key: string): Promise<Response> =>
  call("DELETE", "/kv", { namespace: `vars/job/${jobName()}`, key });
export const deleteJobSecret = (key: string): Promise<Response> =>
  call("DELETE", "/kv/secret", { namespace: `secrets/job/${jobName()}`, key });

// Demands and semaphores.
export const listCommandDemands = (): Promise<Response> => call("GET", "/demands");
export const listHookDemands = listCommandDemands;
export const acquireSemaphore = (name: string, capacity = 1, timeoutSeconds = 600): Promise<Response> =>
  call("POST", "/semaphore/acquire", { name, capacity, timeout_seconds: timeoutSeconds });
export const releaseSemaphore = (name: string): Promise<Response> => call("POST", "/semaphore/release", { name });
export const semaphoreStatus = (name: string): Promise<Response> =>
  call("GET", "/semaphore/status", undefined, { name });

// The original's aliases.
export const getAllocationId = allocationId;
export const getAllocationIp = allocationIp;
export const getAllocationIndex = allocationIndex;
export const getEvent = commandEvent;
export const getCommand = commandName;
export const getJob = jobName;
export const kvGet = getStoreValue;
export const kvPut = putJobVariable;

export const kvPutSecret = putJobSecret;
export const getDemands = listCommandDemands;

// The Python spellings (seed 001: "both runtimes"): the same functions, so
// signatures and return types are the camelCase ones'.
export const allocation_id = allocationId;
export const allocation_ip = allocationIp;
export const allocation_index = allocationIndex;
export const is_allocation_disabled = isAllocationDisabled;
export const command_event = commandEvent;
export const command_name = commandName;
export const job_name = jobName;
export const hook_event = hookEvent;
export const hook_name = hookName;
export const is_one_shot = isOneShot;
export const is_single_batch = isSingleBatch;
export const is_first_batch = isFirstBatch;
export const get_store_value = getStoreValue;
export const get_kv_value = getKvValue;
export const kv_value_or_none = kvValueOrNull;
export const put_rollout_order = putRolloutOrder;
export const get_rollout_order = getRolloutOrder;
export const rollout_order = rolloutOrder;
export const put_job_variable = putJobVariable;
export const put_job_secret = putJobSecret;
export const list_job_keys = listJobKeys;
export const delete_job_variable = deleteJobVariable;
export const delete_job_secret = deleteJobSecret;
export const list_command_demands = listCommandDemands;
export const list_hook_demands = listHookDemands;
export const acquire_semaphore = acquireSemaphore;
export const release_semaphore = releaseSemaphore;
export const semaphore_status = semaphoreStatus;
export const get_allocation_id = getAllocationId;
export const get_allocation_ip = getAllocationIp;
export const get_allocation_index = getAllocationIndex;
export const get_event = getEvent;
export const get_command = getCommand;
export const get_job = getJob;
export const kv_get = kvGet;
export const kv_put = kvPut;
export const kv_put_secret = kvPutSecret;
export const get_demands = getDemands;
// maand.py's own aliases.
export const get_job_name = jobName;
export const kv_get_response = getStoreValue;
export const kv_delete = deleteJobVariable;
export const secret_put = putJobSecret;
export const secret_delete = deleteJobSecret;
