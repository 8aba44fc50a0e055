package azure_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/newsroom-dev/newsroom/telemetry"
)

// kustoQueries returns the README's kusto code blocks.
func kustoQueries(t *testing.T) []string {
	t.Helper()
	text := readRepoFile(t, "deploy/azure/README.md")
	var out []string
	for _, block := range strings.Split(text, "```kusto\n")[1:] {
		q, _, ok := strings.Cut(block, "```")
		if !ok {
			t.Fatal("an unclosed kusto block in deploy/azure/README.md")
		}
		out = append(out, q)
	}
	if len(out) < 3 {
		t.Fatalf("%d kusto queries in deploy/azure/README.md, want those for runs, tokens and cost", len(out))
	}
	return out
}

// TestREADME_KustoQueriesMatchTheTelemetry keeps the README's queries on the
// names the app and the template really produce: the role name the
// collector's azuremonitor exporter derives from the resource
// (service.namespace "." service.name), the table each span kind lands in,
// and the span, metric and attribute names of package telemetry.
func TestREADME_KustoQueriesMatchTheTelemetry(t *testing.T) {
	ct := loadTemplate(t)
	service := strings.Trim(appSetting(t, ct, "OTEL_SERVICE_NAME"), "'")
	ns := regexp.MustCompile(`service\.namespace=([^,']+)`).FindStringSubmatch(appSetting(t, ct, "OTEL_RESOURCE_ATTRIBUTES"))
	if service == "" || strings.HasPrefix(service, "[") || ns == nil {
		t.Fatalf("OTEL_SERVICE_NAME %q, OTEL_RESOURCE_ATTRIBUTES without service.namespace: the role name is unknown", service)
	}
	role := ns[1] + "." + service

	metrics := []string{telemetry.MetricCost, telemetry.MetricSimilarLookups, telemetry.MetricSimilarEmbeddingTokens,
		telemetry.MetricCacheLookups, telemetry.MetricPoolFailovers, telemetry.MetricRunsFinished, telemetry.MetricRunDuration}
	attrs := []string{string(telemetry.AttrDeployment), string(telemetry.AttrCacheResult), string(telemetry.AttrCostUSD),
		string(semconv.GenAIRequestModelKey), string(semconv.GenAIUsageInputTokensKey), string(semconv.GenAIUsageOutputTokensKey)}
	chat := semconv.GenAIOperationNameChat.Value.AsString()

	var sawRun, sawChat bool
	for _, q := range kustoQueries(t) {
		table, _, _ := strings.Cut(strings.TrimSpace(q), "\n")
		roles := regexp.MustCompile(`AppRoleName == "([^"]*)"`).FindAllStringSubmatch(q, -1)
		if len(roles) == 0 {
			t.Errorf("query without a role filter:\n%s", q)
		}
		for _, r := range roles {
			if r[1] != role {
				t.Errorf("AppRoleName == %q, but the exporter names the role %q (service.namespace.service.name):\n%s", r[1], role, q)
			}
		}
		for _, m := range regexp.MustCompile(`Properties\["([^"]+)"\]`).FindAllStringSubmatch(q, -1) {
			if !slices.Contains(attrs, m[1]) {
				t.Errorf("Properties[%q]: no attribute of that name is recorded", m[1])
			}
		}
		for _, m := range regexp.MustCompile(`\bName == "([^"]+)"`).FindAllStringSubmatch(q, -1) {
			if m[1] != telemetry.SpanRun {
				t.Errorf("a query filters span %q, not a span the app makes", m[1])
				continue
			}
			sawRun = true
			// A run's span is internal (no kind given): the exporter writes
			// it to AppDependencies; AppRequests holds server spans only.
			if table != "AppDependencies" {
				t.Errorf("the runs query reads %s; the internal span %s lands in AppDependencies", table, telemetry.SpanRun)
			}
		}
		for _, m := range regexp.MustCompile(`\bName startswith "([^"]+)"`).FindAllStringSubmatch(q, -1) {
			if m[1] != chat {
				t.Errorf("a query filters spans starting %q; model calls are %q spans", m[1], chat+" <model>")
			}
			sawChat = true
			if table != "AppDependencies" {
				t.Errorf("the model-call query reads %s; client spans land in AppDependencies", table)
			}
		}
		if in := regexp.MustCompile(`\bName in \(([^)]*)\)`).FindStringSubmatch(q); in != nil {
			if table != "AppMetrics" {
				t.Errorf("a metric-name filter on %s, want AppMetrics", table)
			}
			for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(in[1], -1) {
				if !slices.Contains(metrics, m[1]) {
					t.Errorf("metric %q: the app records no metric of that name", m[1])
				}
			}
		}
	}
	if !sawRun || !sawChat {
		t.Errorf("runs query found: %v, model-call query found: %v", sawRun, sawChat)
	}
}
