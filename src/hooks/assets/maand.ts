// maand hook helpers for Bun. Staged next to every hook script by maand:
//   import { isOneShot, putJobVariable } from "./maand";
// API calls resolve to a Response-like object with statusCode, text, json()
// and raiseForStatus(); they send the session token and the
// X-ALLOCATION-ID / EVENT / COMMAND headers from the environment.

const env = (name: string, fallback = ""): string => process.env[name] ?? fallback;

export class ApiResponse {
  constructor(public statusCode: number, public text: string, public url: string) {}
  get status_code(): number {
    return this.statusCode;
  }
  get ok(): boolean {
    return this.statusCode < 400;
  }
  json(): any {
    return this.text ? JSON.parse(this.text) : null;
  }
  raiseForStatus(): this {
    if (this.statusCode >= 400) {
      let msg = this.text;
      try {
        msg = this.json()?.error ?? msg;
      } catch {}
      throw new Error(`${this.statusCode}: ${msg} (${this.url})`);
    }
    return this;
  }
  raise_for_status(): this {
    return this.raiseForStatus();
  }
}

// Context.
export const allocationId = (): string => env("ALLOCATION_ID");
export const allocationIp = (): string => env("ALLOCATION_IP");
export const allocationIndex = (): number => parseInt(env("ALLOCATION_INDEX", "0"), 10);
export const jobName = (): string => env("JOB");
export const hookEvent = (): string => env("EVENT");
export const hookName = (): string => env("HOOK", env("COMMAND"));
export const isAllocationDisabled = (): boolean => env("DISABLED", "0") === "1";
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
    "X-ALLOCATION-ID": allocationId(),
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
  return new ApiResponse(r.status, await r.text(), url);
}

// KV.
export const getStoreValue = (namespace: string, key: string) => call("GET", "/kv", { namespace, key });
export async function getKvValue(namespace: string, key: string): Promise<string | null> {
  const r = await getStoreValue(namespace, key);
  if (r.statusCode === 404) return null;
  return r.raiseForStatus().json().value;
}
export const putRolloutOrder = (order: string[] | string) =>
  call("PUT", "/kv", { namespace: `maand/job/${jobName()}`, key: "rollout_order", value: Array.isArray(order) ? order.join(",") : order });
export async function getRolloutOrder(): Promise<string[]> {
  return ((await getKvValue(`maand/job/${jobName()}`, "rollout_order")) ?? "").split(",").filter((x) => x);
}
export const putJobVariable = (key: string, value: unknown, ttl = 0) =>
  call("PUT", "/kv", { namespace: `vars/job/${jobName()}`, key, value: String(value), ttl });
export const putJobSecret = (key: string, value: unknown, ttl = 0) =>
  call("PUT", "/kv/secret", { namespace: `secrets/job/${jobName()}`, key, value: String(value), ttl });
export const deleteJobVariable = (key: string) => call("DELETE", "/kv", { namespace: `vars/job/${jobName()}`, key });
export const deleteJobSecret = (key: string) => call("DELETE", "/kv/secret", { namespace: `secrets/job/${jobName()}`, key });
export const listJobKeys = (namespace?: string) => call("GET", "/kv/keys", namespace ? { namespace } : undefined);

// Demands and semaphores.
export const listHookDemands = () => call("GET", "/demands");
export const acquireSemaphore = (name: string, capacity = 1, timeoutSeconds = 600) =>
  call("POST", "/semaphore/acquire", { name, capacity, timeout_seconds: timeoutSeconds });
export const releaseSemaphore = (name: string) => call("POST", "/semaphore/release", { name });
export const semaphoreStatus = (name: string) => call("GET", "/semaphore/status", undefined, { name });

// Aliases.
export const getAllocationId = allocationId;
export const getJob = jobName;
export const kvGet = getKvValue;
export const kvPut = putJobVariable;

// The original maand's names (its hooks were "job commands").
export const commandEvent = hookEvent;
export const commandName = hookName;
export const getCommand = hookName;
export const getEvent = hookEvent;
export const listCommandDemands = listHookDemands;
export const getDemands = listHookDemands;
export const kvPutSecret = putJobSecret;
