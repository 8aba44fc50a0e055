package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// TestRecordFailover: a pool whose primary answers 503 and whose window
// for "full" is full: every call is counted by the deployment it left and
// why, in the metrics (Prometheus too) and on the call's span.
func TestRecordFailover(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{Prometheus: true})
	down := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return nil, &model.Error{StatusCode: http.StatusServiceUnavailable, Message: "down"}
	})
	full := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return nil, ratelimit.ErrFull
	})
	up := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return &model.Response{Content: "ok", FinishReason: "stop"}, nil
	})
	p, err := pool.New(pool.Config{FailureThreshold: 100, OnLeave: tp.RecordFailover, Members: []pool.Member{
		{Name: "primary", Client: down, Priority: 1},
		{Name: "full", Client: full, Priority: 2},
		{Name: "secondary", Client: up, Priority: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(p)
	req := request()
	req.Model = "" // the pool's default route: a Model names a pool or one of its members
	for range 2 {
		resp, err := c.Complete(context.Background(), req)
		if err != nil || resp.Deployment != "secondary" {
			t.Fatalf("answered by %v, %v; want the secondary", resp, err)
		}
	}
	rm := tp.collect(t)
	for _, c := range []struct {
		from, reason string
		want         int64
	}{{"primary", pool.ReasonServerError, 2}, {"full", pool.ReasonSpillOver, 2}, {"secondary", pool.ReasonSpillOver, 0}} {
		if got := sumInt(t, rm, telemetry.MetricPoolFailovers, attribute.String("newsroom.deployment", c.from),
			attribute.String("newsroom.pool.reason", c.reason)); got != c.want {
			t.Errorf("failovers from %s for %s = %d, want %d", c.from, c.reason, got, c.want)
		}
	}
	s := tp.ended(t)[0]
	var events []string
	for _, e := range s.Events {
		if e.Name == "failover" {
			from, _ := spanAttr(e.Attributes, "newsroom.deployment")
			reason, _ := spanAttr(e.Attributes, "newsroom.pool.reason")
			events = append(events, from.AsString()+":"+reason.AsString())
		}
	}
	if strings.Join(events, " ") != "primary:server_error full:spill_over" {
		t.Errorf("span failover events %v", events)
	}
	if v, _ := spanAttr(s.Attributes, "newsroom.pool.failover_from"); v.AsString() != "full" {
		t.Errorf("span newsroom.pool.failover_from = %q, want the last deployment left", v.AsString())
	}
	rec := httptest.NewRecorder()
	tp.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var line string
	for l := range strings.Lines(string(body)) {
		if strings.HasPrefix(l, "newsroom_pool_failovers_total{") && strings.Contains(l, `newsroom_deployment="primary"`) {
			line = l
		}
	}
	if !strings.Contains(line, `newsroom_pool_reason="server_error"`) || !strings.HasSuffix(strings.TrimSpace(line), " 2") {
		t.Errorf("Prometheus exposition of the primary's failovers: %q", line)
	}
}
