package budget

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/model/cost"
)

// Alert kinds.
const (
	AlertDaily80       = "daily_budget_80"
	AlertDailyExceeded = "daily_budget_exceeded"
)

// Alert tells that the daily spending reached a level. Each kind is sent at
// most once per UTC day.
type Alert struct {
	// Kind is AlertDaily80 (80% of the budget reached) or AlertDailyExceeded
	// (the budget reached or passed).
	Kind string
	// Day is the UTC day, "2006-01-02".
	Day       string
	SpentUSD  float64
	BudgetUSD float64
}

// DailyConfig configures a Daily.
type DailyConfig struct {
	// BudgetUSD is the most the process should spend per UTC day; 0 means
	// no daily budget (spending is still counted).
	BudgetUSD float64
	// Enforce refuses calls whose worst case would cross the daily budget,
	// with a StopError. Without it the budget only alerts.
	Enforce bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnAlert receives the alerts (the telemetry turns them into a log event
	// and a metric); nil drops them. It is called without locks held.
	OnAlert func(Alert)
	// Shared keeps the day's total for every instance of the service (a
	// shared Redis, see budget/redisspend), so the daily budget holds for
	// the service, not per process: each call's cost is added to it and a
	// call's worst case is checked against its total. Calls in flight on
	// other instances are not counted. Nil means this process alone; when
	// Shared fails, this process's own count is used until it answers again.
	Shared SpendStore
}

// SpendStore keeps each UTC day's spending for all instances sharing it.
type SpendStore interface {
	// Add adds usd to day's total ("2006-01-02") and returns the new total.
	Add(ctx context.Context, day string, usd float64) (float64, error)
	// Spent returns day's total.
	Spent(ctx context.Context, day string) (float64, error)
}

// sharedTimeout bounds one call to the shared spend store.
const sharedTimeout = 2 * time.Second

// Daily is the process-wide daily budget shared by all runs. It is safe for
// concurrent use.
type Daily struct {
	cfg DailyConfig

	mu       sync.Mutex
	day      string
	spent    float64
	reserved float64
	sent80   bool
	sentOver bool
}

// reservation is a call's worst case held against the day it was made on.
type reservation struct {
	day string
	usd float64
}

// NewDaily returns a Daily.
func NewDaily(cfg DailyConfig) *Daily {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Daily{cfg: cfg}
}

// Budget returns the daily budget in USD.
func (d *Daily) Budget() float64 { return d.cfg.BudgetUSD }

// Spent returns what was spent today (UTC): by the whole service when the
// spending is shared.
func (d *Daily) Spent() float64 {
	d.refresh(context.Background())
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rollover()
	return d.spent
}

// Add counts spending made outside the middleware and sends the alerts it
// causes.
func (d *Daily) Add(usd float64) {
	d.settle(context.Background(), nil, usd)
}

// refresh reads the service's total for today from the shared store.
func (d *Daily) refresh(ctx context.Context) {
	if d.cfg.Shared == nil {
		return
	}
	d.mu.Lock()
	d.rollover()
	day := d.day
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	total, err := d.cfg.Shared.Spent(ctx, day)
	if err != nil {
		return // this process's own count stands in
	}
	d.mu.Lock()
	if d.day == day {
		d.spent = max(d.spent, total)
	}
	d.mu.Unlock()
}

// today is the current UTC day.
func (d *Daily) today() string { return d.cfg.Now().UTC().Format(time.DateOnly) }

// rollover starts a new day when the UTC date changed. d.mu must be held.
func (d *Daily) rollover() {
	day := d.cfg.Now().UTC().Format(time.DateOnly)
	if day != d.day {
		d.day, d.spent, d.reserved, d.sent80, d.sentOver = day, 0, 0, false, false
	}
}

func (d *Daily) reserve(ctx context.Context, usd float64) (*reservation, error) {
	if d.cfg.Enforce && d.cfg.BudgetUSD > 0 {
		d.refresh(ctx)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rollover()
	if d.cfg.Enforce && d.cfg.BudgetUSD > 0 && d.spent+d.reserved+usd > d.cfg.BudgetUSD {
		return nil, &StopError{Scope: "daily", reason: fmt.Sprintf(
			"budget: the next call could cost up to %s, which would cross the daily budget of %s (%s spent today%s)",
			USD(usd), USD(d.cfg.BudgetUSD), USD(d.spent), inFlightUSD(d.reserved))}
	}
	d.reserved += usd
	return &reservation{day: d.day, usd: usd}, nil
}

// settle releases a reservation (nil: none), counts what was spent and
// sends the alerts that crossing a level causes.
func (d *Daily) settle(ctx context.Context, r *reservation, usd float64) {
	total, shared := 0.0, false
	if d.cfg.Shared != nil && usd > 0 {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
		var err error
		total, err = d.cfg.Shared.Add(sctx, d.today(), usd)
		cancel()
		shared = err == nil
	}
	d.mu.Lock()
	d.rollover()
	// A reservation from a day that has ended was dropped with that day.
	if r != nil && r.day == d.day {
		d.reserved = cost.Round(max(d.reserved-r.usd, 0))
	}
	d.spent = cost.Round(d.spent + usd)
	if shared {
		d.spent = max(d.spent, cost.Round(total))
	}
	var alerts []Alert
	if b := d.cfg.BudgetUSD; b > 0 {
		if !d.sent80 && d.spent >= 0.8*b {
			d.sent80 = true
			alerts = append(alerts, Alert{Kind: AlertDaily80, Day: d.day, SpentUSD: d.spent, BudgetUSD: b})
		}
		if !d.sentOver && d.spent >= b {
			d.sentOver = true
			alerts = append(alerts, Alert{Kind: AlertDailyExceeded, Day: d.day, SpentUSD: d.spent, BudgetUSD: b})
		}
	}
	d.mu.Unlock()
	if d.cfg.OnAlert != nil {
		for _, a := range alerts {
			d.cfg.OnAlert(a)
		}
	}
}
