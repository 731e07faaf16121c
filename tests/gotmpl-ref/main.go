// The reference renderer of maand's differential template test
// (tests/templates_go.rs): Go's own text/template with a FuncMap that
// implements the original maand's template functions (deploy/templates.go
// of the Go maand) over a KV given as JSON. Standard library only.
//
// Input (stdin): {"kv": {ns: {key: value}}, "cases": [{"src", "job",
// "allowed": [ns...], "dot": {...}}]}. Output (stdout): one result per case,
// {"ok": bool, "out": hex of the rendered bytes, "err": message}.
//
// Deliberate differences from the original, which maand makes too (see
// docs/templates.md): the dot is a map (the original's is a struct, so
// `missingkey=error` stands in for its unknown-field error) and `keys`
// returns sorted names (the original's came in Go map order).
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

type input struct {
	KV    map[string]map[string]string `json:"kv"`
	Cases []tcase                      `json:"cases"`
}

type tcase struct {
	Src     string          `json:"src"`
	Job     string          `json:"job"`
	Allowed []string        `json:"allowed"`
	Dot     json.RawMessage `json:"dot"`
}

type dotJSON struct {
	AllocationID   string
	Job            string
	CurrentVersion string
	NewVersion     string
	WorkerIP       string
	WorkerID       string
	Labels         []string
	BucketID       string
	UpdateSeq      int
	BucketPath     string
	JobPath        string
}

type result struct {
	Ok  bool   `json:"ok"`
	Out string `json:"out"`
	Err string `json:"err"`
}

var errNotFound = errors.New("key not found or deleted")

type store map[string]map[string]string

func (s store) get(ns, key string) (string, error) {
	v, ok := s[ns][key]
	if !ok {
		return "", errNotFound
	}
	return v, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// funcMap mirrors the original's templateFuncMap (panics included: Go's
// template engine turns a panicking function into an execution error).
func funcMap(kv store, job string, allowed []string) template.FuncMap {
	check := func(ns string) {
		if !contains(allowed, ns) {
			panic(fmt.Sprintf("%s namespace is not available for job %s", ns, job))
		}
	}
	return template.FuncMap{
		"get": func(ns, key string) string {
			check(ns)
			v, err := kv.get(ns, key)
			if err != nil {
				panic(err)
			}
			return v
		},
		"getOptional": func(ns, key string) string {
			check(ns)
			v, err := kv.get(ns, key)
			if err != nil {
				return ""
			}
			return v
		},
		"keys": func(ns string) []string {
			check(ns)
			keys := make([]string, 0, len(kv[ns]))
			for k := range kv[ns] {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return keys
		},
		"getSecret": func(key string) string {
			v, err := kv.get("secrets/job/"+job, key)
			if err != nil {
				panic(err)
			}
			return v
		},
		"split": strings.Split,
		"trim":  strings.TrimSpace,
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"join":  strings.Join,
		"add":   func(a, b int) int { return a + b },
		"sub":   func(a, b int) int { return a - b },
		"mul":   func(a, b int) int { return a * b },
		"div":   func(a, b int) int { return a / b },
		"min": func(a, b int) int {
			if a < b {
				return a
			}
			return b
		},
		"max": func(a, b int) int {
			if a > b {
				return a
			}
			return b
		},
		"int": func(v any) int {
			switch n := v.(type) {
			case int:
				return n
			case int64:
				return int(n)
			case string:
				i, err := strconv.Atoi(strings.TrimSpace(n))
				if err != nil {
					panic(err)
				}
				return i
			default:
				panic("int: expected string or integer")
			}
		},
	}
}

func render(kv store, c tcase) (out []byte, err error) {
	var d dotJSON
	if err := json.Unmarshal(c.Dot, &d); err != nil {
		return nil, err
	}
	dot := map[string]any{
		"AllocationID":   d.AllocationID,
		"Job":            d.Job,
		"CurrentVersion": d.CurrentVersion,
		"NewVersion":     d.NewVersion,
		"WorkerIP":       d.WorkerIP,
		"WorkerID":       d.WorkerID,
		"Labels":         d.Labels,
		"BucketID":       d.BucketID,
		"UpdateSeq":      d.UpdateSeq,
		"BucketPath":     d.BucketPath,
		"JobPath":        d.JobPath,
	}
	t, err := template.New("template").Funcs(funcMap(kv, c.Job, c.Allowed)).Option("missingkey=error").Parse(c.Src)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, dot); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "gotmpl-ref: bad input:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(in.Cases))
	for _, c := range in.Cases {
		out, err := render(store(in.KV), c)
		if err != nil {
			results = append(results, result{Err: err.Error()})
		} else {
			results = append(results, result{Ok: true, Out: hex.EncodeToString(out)})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "gotmpl-ref:", err)
		os.Exit(1)
	}
}
