package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestRunBench_FlagErrorsAreUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no benchmark":      nil,
		"unknown benchmark": {"speed"},
		"unknown flag":      {"quota", "--nope"},
		"bad store":         {"cache", "--store", "etcd"},
		"bad team":          {"overhead", "--team", "chaos"},
		"extra argument":    {"cache", "now"},
		"bad cluster phase": {"cluster", "--phase", "nope"},
		"cluster of one":    {"cluster", "--instances", "1"},
		"bad cluster rates": {"cluster", "--fault-rate", "429=2"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runBench(context.Background(), args, &out, &errOut)
			if !errors.Is(err, errUsage) {
				t.Fatalf("err %v, want a usage error", err)
			}
			if out.Len() != 0 {
				t.Fatalf("printed a report on a usage error: %s", out.String())
			}
		})
	}
}

func TestRunBench_CachePrintsOneJSONReportAndASummary(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runBench(context.Background(), []string{"cache", "--store", "memory", "--reruns", "2"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Benchmark string `json:"benchmark"`
		Stores    []struct {
			Store       string  `json:"store"`
			RerunTokens *int    `json:"rerun_tokens"`
			CachedTurns int     `json:"cached_turns"`
			MsPerTurn   float64 `json:"ms_per_cached_turn"`
		} `json:"stores"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, out.String())
	}
	if r.Benchmark != "cache" || len(r.Stores) != 1 || r.Stores[0].Store != "memory" || r.Stores[0].RerunTokens == nil ||
		*r.Stores[0].RerunTokens != 0 || r.Stores[0].CachedTurns == 0 {
		t.Fatalf("report %+v", r)
	}
	if !strings.HasPrefix(errOut.String(), "bench cache: memory:") {
		t.Fatalf("stderr summary %q", errOut.String())
	}
}

func TestRunBench_QuotaRunsBriefly(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runBench(context.Background(), []string{"quota", "--runs", "2", "--duration", "1s", "--warmup", "0s",
		"--ttft", "1ms", "--tps", "-1"}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	for _, k := range []string{"tpm_used_pct", "rpm_used_pct", "throttled_pct", "failed_runs", "completed_runs", "in_flight_runs", "requests", "tokens", "limiter"} {
		if _, ok := r[k]; !ok {
			t.Fatalf("report has no %q: %s", k, out.String())
		}
	}
	if r["failed_runs"] != 0.0 || r["limiter"] != true {
		t.Fatalf("report %s", out.String())
	}
}
