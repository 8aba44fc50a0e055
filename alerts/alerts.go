// Package alerts watches the signals the design's metric table sets limits
// on (model latency, model success rate, quota use, daily cost against the
// budget, authentication failures) and raises an alert when one crosses its
// threshold: a log event with the field alert=<name> and a count on the
// metric newsroom.alert.<name>, which Azure Monitor alert rules watch.
//
// Alerts are edge-triggered: one fires when its condition becomes true, not
// on every observation while it stays true, and not again within the
// cool-down after it fired. Time comes from an injected clock.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/newsroom-dev/newsroom/model"
)

// Names of the alerts; the metric of each is MetricPrefix + name.
const (
	ModelLatency   = "model_latency"
	SuccessRate    = "success_rate"
	QuotaUsed      = "quota_used"
	CostOverBudget = "cost_over_budget"
	AuthFailures   = "auth_failures"
)

// MetricPrefix starts the name of every alert metric.
const MetricPrefix = "newsroom.alert."

// Kinds of authentication failure for ObserveAuthFailure.
const (
	AuthModel  = "model"   // the model service refused our credential (401/403)
	AuthAPIKey = "api_key" // a client presented a bad service API key
)

// Names lists every alert, in the design table's order.
var Names = []string{ModelLatency, SuccessRate, QuotaUsed, CostOverBudget, AuthFailures}

// Config sets the thresholds. The zero value of each field is the design's
// default, given in its comment.
type Config struct {
	// MaxLatency: a model call slower than this fires model_latency. 0 means 5s.
	MaxLatency time.Duration
	// MinSuccessRate: success_rate fires when the share of successful model
	// calls in SuccessWindow falls below it. 0 means 0.995.
	MinSuccessRate float64
	// SuccessWindow is the span the success rate is computed over. 0 means 5 minutes.
	SuccessWindow time.Duration
	// MinCalls is the number of calls the window must hold before the rate
	// is judged, so one early failure is not a 0% rate. 0 means 20.
	MinCalls int
	// MaxQuotaUsed: quota_used fires above this fraction of the token quota. 0 means 0.8.
	MaxQuotaUsed float64
	// MaxOverBudget: cost_over_budget fires when the day's spend exceeds the
	// budget by more than this fraction. 0 means 0.2 (20%).
	MaxOverBudget float64
	// MaxAuthFailures: auth_failures fires when more than this many
	// authentication failures happen within AuthWindow. 0 means 5.
	MaxAuthFailures int
	// AuthWindow is the auth-failure window. 0 means one minute.
	AuthWindow time.Duration
	// CoolDown is the least time between two firings of one alert. 0 means
	// 5 minutes; a negative value means no cool-down.
	CoolDown time.Duration

	// Logger receives the alert events; nil means no log.
	Logger *slog.Logger
	// Meter creates the newsroom.alert.* counters; nil means no metrics.
	Meter metric.Meter
	// OnAlert, when set, is called (without the monitor's lock) for every
	// alert fired.
	OnAlert func(Alert)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Alert describes one firing.
type Alert struct {
	Name      string
	Value     float64
	Threshold float64
	Time      time.Time
	// Detail is a human sentence; it never holds secrets.
	Detail string
}

// Monitor evaluates the observations against the thresholds. It is safe for
// concurrent use.
type Monitor struct {
	cfg      Config
	counters map[string]metric.Int64Counter

	mu    sync.Mutex
	state map[string]*alertState
	calls []call      // model calls inside SuccessWindow, oldest first
	auth  []time.Time // auth failures inside AuthWindow, oldest first
}

type alertState struct {
	active    bool
	lastFired time.Time
	fired     int
}

type call struct {
	at time.Time
	ok bool
}

// New returns a Monitor. It fails only when the meter refuses an instrument.
func New(cfg Config) (*Monitor, error) {
	if cfg.MaxLatency == 0 {
		cfg.MaxLatency = 5 * time.Second
	}
	if cfg.MinSuccessRate == 0 {
		cfg.MinSuccessRate = 0.995
	}
	if cfg.SuccessWindow == 0 {
		cfg.SuccessWindow = 5 * time.Minute
	}
	if cfg.MinCalls == 0 {
		cfg.MinCalls = 20
	}
	if cfg.MaxQuotaUsed == 0 {
		cfg.MaxQuotaUsed = 0.8
	}
	if cfg.MaxOverBudget == 0 {
		cfg.MaxOverBudget = 0.2
	}
	if cfg.MaxAuthFailures == 0 {
		cfg.MaxAuthFailures = 5
	}
	if cfg.AuthWindow == 0 {
		cfg.AuthWindow = time.Minute
	}
	if cfg.CoolDown == 0 {
		cfg.CoolDown = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Meter == nil {
		cfg.Meter = noop.NewMeterProvider().Meter("")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Monitor{cfg: cfg, counters: map[string]metric.Int64Counter{}, state: map[string]*alertState{}}
	for _, name := range Names {
		c, err := cfg.Meter.Int64Counter(MetricPrefix+name, metric.WithUnit("{alert}"),
			metric.WithDescription("Times the "+name+" alert fired."))
		if err != nil {
			return nil, fmt.Errorf("alerts: metric %s: %w", MetricPrefix+name, err)
		}
		m.counters[name] = c
		m.state[name] = &alertState{}
	}
	return m, nil
}

// ObserveModelCall records one model call: its latency and its error (nil
// for success). A 401 or 403 from the model also counts as an
// authentication failure. Graceful stops (budget, content filter) and
// cancellations are not failures of the service and are left out of the
// success rate. Its signature fits telemetry.MiddlewareOptions.OnCall.
func (m *Monitor) ObserveModelCall(latency time.Duration, err error) {
	var fired []Alert
	m.mu.Lock()
	now := m.cfg.Now()
	fired = m.eval(fired, ModelLatency, latency > m.cfg.MaxLatency, now, latency.Seconds(), m.cfg.MaxLatency.Seconds(),
		fmt.Sprintf("model call took %s, over %s", latency.Round(time.Millisecond), m.cfg.MaxLatency))

	if countsForSuccess(err) {
		m.calls = append(m.calls, call{at: now, ok: err == nil})
	}
	m.calls = pruneCalls(m.calls, now.Add(-m.cfg.SuccessWindow))
	if len(m.calls) >= m.cfg.MinCalls {
		ok := 0
		for _, c := range m.calls {
			if c.ok {
				ok++
			}
		}
		rate := float64(ok) / float64(len(m.calls))
		fired = m.eval(fired, SuccessRate, rate < m.cfg.MinSuccessRate, now, rate, m.cfg.MinSuccessRate,
			fmt.Sprintf("%d of %d model calls succeeded in the last %s (%.2f%%)", ok, len(m.calls), m.cfg.SuccessWindow, rate*100))
	}
	var me *model.Error
	if errors.As(err, &me) && (me.StatusCode == 401 || me.StatusCode == 403) {
		fired = m.authFailureLocked(fired, AuthModel, now)
	}
	m.mu.Unlock()
	m.emit(fired)
}

func countsForSuccess(err error) bool {
	if err == nil {
		return true
	}
	if _, stop := model.AsStop(err); stop {
		return false
	}
	return !errors.Is(err, context.Canceled)
}

func pruneCalls(cs []call, after time.Time) []call {
	i := 0
	for i < len(cs) && !cs[i].at.After(after) {
		i++
	}
	return cs[i:]
}

// ObserveQuota records the fraction (0 to 1) of the token quota used.
func (m *Monitor) ObserveQuota(fraction float64) {
	m.mu.Lock()
	now := m.cfg.Now()
	fired := m.eval(nil, QuotaUsed, fraction > m.cfg.MaxQuotaUsed, now, fraction, m.cfg.MaxQuotaUsed,
		fmt.Sprintf("%.1f%% of the token quota used, over %.1f%%", fraction*100, m.cfg.MaxQuotaUsed*100))
	m.mu.Unlock()
	m.emit(fired)
}

// ObserveCost records the day's spend against the daily budget, both in
// USD. A budget of 0 or less means no budget: nothing fires.
func (m *Monitor) ObserveCost(spent, budget float64) {
	m.mu.Lock()
	now := m.cfg.Now()
	over := 0.0
	if budget > 0 {
		over = spent/budget - 1
	}
	fired := m.eval(nil, CostOverBudget, budget > 0 && over > m.cfg.MaxOverBudget, now, over, m.cfg.MaxOverBudget,
		fmt.Sprintf("spent %.2f USD today against a %.2f USD budget (%+.0f%%)", spent, budget, over*100))
	m.mu.Unlock()
	m.emit(fired)
}

// ObserveAuthFailure records one authentication failure of the given kind
// (AuthModel, AuthAPIKey or another short word).
func (m *Monitor) ObserveAuthFailure(kind string) {
	m.mu.Lock()
	fired := m.authFailureLocked(nil, kind, m.cfg.Now())
	m.mu.Unlock()
	m.emit(fired)
}

func (m *Monitor) authFailureLocked(fired []Alert, kind string, now time.Time) []Alert {
	m.auth = append(m.auth, now)
	cut := now.Add(-m.cfg.AuthWindow)
	i := 0
	for i < len(m.auth) && !m.auth[i].After(cut) {
		i++
	}
	m.auth = m.auth[i:]
	n := len(m.auth)
	return m.eval(fired, AuthFailures, n > m.cfg.MaxAuthFailures, now, float64(n), float64(m.cfg.MaxAuthFailures),
		fmt.Sprintf("%d authentication failures in the last %s (latest: %s)", n, m.cfg.AuthWindow, kind))
}

// eval moves one alert's state and appends a firing to fired when the
// condition has just become true outside the cool-down.
func (m *Monitor) eval(fired []Alert, name string, cond bool, now time.Time, value, threshold float64, detail string) []Alert {
	st := m.state[name]
	switch {
	case cond && !st.active:
		st.active = true
		if st.fired > 0 && m.cfg.CoolDown > 0 && now.Sub(st.lastFired) < m.cfg.CoolDown {
			return fired
		}
		st.lastFired = now
		st.fired++
		return append(fired, Alert{Name: name, Value: value, Threshold: threshold, Time: now, Detail: detail})
	case !cond && st.active:
		st.active = false
		m.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "alert resolved",
			slog.String("alert", name), slog.Float64("value", value), slog.Float64("threshold", threshold))
	}
	return fired
}

func (m *Monitor) emit(fired []Alert) {
	for _, a := range fired {
		ctx := context.Background()
		m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "alert: "+a.Detail,
			slog.String("alert", a.Name), slog.Float64("value", a.Value), slog.Float64("threshold", a.Threshold))
		m.counters[a.Name].Add(ctx, 1, metric.WithAttributes(attribute.String("alert", a.Name)))
		if m.cfg.OnAlert != nil {
			m.cfg.OnAlert(a)
		}
	}
}

// Active returns the names of the alerts whose condition holds now, in
// Names order.
func (m *Monitor) Active() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, n := range Names {
		if m.state[n].active {
			out = append(out, n)
		}
	}
	return out
}

// Fired returns how many times the alert has fired.
func (m *Monitor) Fired(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.state[name]; ok {
		return st.fired
	}
	return 0
}
