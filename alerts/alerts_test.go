package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/newsroom-dev/newsroom/alerts"
	"github.com/newsroom-dev/newsroom/model"
)

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

type fixture struct {
	m      *alerts.Monitor
	clock  *clock
	logs   *bytes.Buffer
	reader *sdkmetric.ManualReader
	fired  []string
}

func newFixture(t *testing.T, cfg alerts.Config) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}, reader: sdkmetric.NewManualReader()}
	cfg.Now = f.clock.now
	cfg.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
	cfg.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader)).Meter("test")
	cfg.OnAlert = func(a alerts.Alert) { f.fired = append(f.fired, a.Name) }
	m, err := alerts.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

// counts reads the newsroom.alert.* counters.
func (f *fixture) counts(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				out[m.Name] += dp.Value
			}
		}
	}
	return out
}

// warnings returns the alert fields of the warning log lines.
func (f *fixture) warnings(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["level"] == "WARN" {
			out = append(out, m["alert"].(string))
		}
	}
	return out
}

func TestMonitor_Thresholds(t *testing.T) {
	serverErr := &model.Error{StatusCode: 500, Message: "boom"}
	tests := []struct {
		name string
		cfg  alerts.Config
		run  func(t *testing.T, m *alerts.Monitor, c *clock)
		want []string
	}{
		{"a call at the latency limit is fine", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveModelCall(5*time.Second, nil)
		}, nil},
		{"a call over 5 s fires model_latency", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveModelCall(5*time.Second+time.Millisecond, nil)
		}, []string{alerts.ModelLatency}},
		{"slow calls in a row fire once", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			for range 5 {
				m.ObserveModelCall(6*time.Second, nil)
				c.advance(time.Second)
			}
		}, []string{alerts.ModelLatency}},
		{"a new edge inside the cool-down stays quiet", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			m.ObserveModelCall(6*time.Second, nil)
			m.ObserveModelCall(time.Second, nil)
			c.advance(time.Minute)
			m.ObserveModelCall(6*time.Second, nil)
		}, []string{alerts.ModelLatency}},
		{"a new edge after the cool-down fires again", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			m.ObserveModelCall(6*time.Second, nil)
			m.ObserveModelCall(time.Second, nil)
			c.advance(5 * time.Minute)
			m.ObserveModelCall(6*time.Second, nil)
		}, []string{alerts.ModelLatency, alerts.ModelLatency}},
		{"one failure in 200 calls is 99.5%, not below", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			for range 199 {
				m.ObserveModelCall(time.Second, nil)
			}
			m.ObserveModelCall(time.Second, serverErr)
		}, nil},
		{"two failures in 200 calls fire success_rate", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			for range 198 {
				m.ObserveModelCall(time.Second, nil)
			}
			m.ObserveModelCall(time.Second, serverErr)
			m.ObserveModelCall(time.Second, serverErr)
		}, []string{alerts.SuccessRate}},
		{"an early failure is judged once MinCalls are in", alerts.Config{MinCalls: 10}, func(t *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveModelCall(time.Second, serverErr)
			for range 8 {
				m.ObserveModelCall(time.Second, nil)
			}
			if len(m.Active()) != 0 {
				t.Error("success rate judged before MinCalls calls")
			}
			m.ObserveModelCall(time.Second, nil)
		}, []string{alerts.SuccessRate}},
		{"too few calls are not judged", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			for range 19 {
				m.ObserveModelCall(time.Second, serverErr)
			}
		}, nil},
		{"failures leave the window", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			for range 20 {
				m.ObserveModelCall(time.Second, serverErr)
			}
			c.advance(6 * time.Minute)
			for range 30 {
				m.ObserveModelCall(time.Second, nil)
			}
		}, []string{alerts.SuccessRate}},
		{"budget stops and cancellations are not failures", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			for range 30 {
				m.ObserveModelCall(time.Second, nil)
			}
			m.ObserveModelCall(time.Second, stopErr{})
			m.ObserveModelCall(time.Second, context.Canceled)
		}, nil},
		{"quota at 80% is fine, above fires", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveQuota(0.8)
			m.ObserveQuota(0.81)
			m.ObserveQuota(0.95)
		}, []string{alerts.QuotaUsed}},
		{"cost 20% over budget is fine, 21% fires", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveCost(12, 10)
			m.ObserveCost(12.1, 10)
		}, []string{alerts.CostOverBudget}},
		{"no budget never fires", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveCost(1000, 0)
		}, nil},
		{"five auth failures a minute are fine", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			for range 5 {
				m.ObserveAuthFailure(alerts.AuthAPIKey)
				c.advance(10 * time.Second)
			}
		}, nil},
		{"six in a minute fire, model 401s and api keys alike", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			for range 3 {
				m.ObserveAuthFailure(alerts.AuthAPIKey)
				c.advance(5 * time.Second)
			}
			for range 3 {
				m.ObserveModelCall(time.Second, &model.Error{StatusCode: 401})
				c.advance(5 * time.Second)
			}
		}, []string{alerts.AuthFailures}},
		{"six spread over two minutes do not", alerts.Config{}, func(_ *testing.T, m *alerts.Monitor, c *clock) {
			for range 6 {
				m.ObserveAuthFailure(alerts.AuthModel)
				c.advance(20 * time.Second)
			}
		}, nil},
		{"thresholds are configurable", alerts.Config{MaxLatency: time.Second, MaxQuotaUsed: 0.5}, func(_ *testing.T, m *alerts.Monitor, _ *clock) {
			m.ObserveModelCall(2*time.Second, nil)
			m.ObserveQuota(0.6)
		}, []string{alerts.ModelLatency, alerts.QuotaUsed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			tt.run(t, f.m, f.clock)
			if diff := cmp.Diff(tt.want, f.fired); diff != "" {
				t.Errorf("fired (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, f.warnings(t)); diff != "" {
				t.Errorf("alert log events (-want +got):\n%s", diff)
			}
			wantCounts := map[string]int64{}
			for _, n := range tt.want {
				wantCounts[alerts.MetricPrefix+n]++
			}
			got := f.counts(t)
			for k, v := range got {
				if v == 0 {
					delete(got, k)
				}
			}
			if diff := cmp.Diff(wantCounts, got); diff != "" {
				t.Errorf("alert metrics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMonitor_ActiveAndResolved(t *testing.T) {
	f := newFixture(t, alerts.Config{})
	f.m.ObserveQuota(0.9)
	f.m.ObserveCost(20, 10)
	if diff := cmp.Diff([]string{alerts.QuotaUsed, alerts.CostOverBudget}, f.m.Active()); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
	f.m.ObserveQuota(0.1)
	if diff := cmp.Diff([]string{alerts.CostOverBudget}, f.m.Active()); diff != "" {
		t.Errorf("active after recovery (-want +got):\n%s", diff)
	}
	if !strings.Contains(f.logs.String(), `"msg":"alert resolved","alert":"quota_used"`) {
		t.Errorf("no resolved event:\n%s", f.logs.String())
	}
	if f.m.Fired(alerts.QuotaUsed) != 1 {
		t.Errorf("Fired(quota) = %d", f.m.Fired(alerts.QuotaUsed))
	}
}

func TestNew_ZeroConfig(t *testing.T) {
	m, err := alerts.New(alerts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveModelCall(10*time.Second, errors.New("x")) // no logger, no meter: must not panic
	if got := m.Active(); !cmp.Equal(got, []string{alerts.ModelLatency}) {
		t.Errorf("active = %v", got)
	}
}

type stopErr struct{}

func (stopErr) Error() string      { return "budget exceeded" }
func (stopErr) StopReason() string { return "budget" }
