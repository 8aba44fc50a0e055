package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The service-wide limits of a deployment with PostgreSQL and no Redis: the
// per-key API rate limit and the daily model spending, kept in the database
// every instance shares, by the database's clock, with one atomic upsert per
// request or call.

// KeyLimiter limits each API key's requests for every instance sharing the
// database: a GCRA limiter (the algorithm of the Redis variant,
// server/redislimit) whose state is one row per key holding its theoretical
// arrival time. It implements server.KeyLimiter.
type KeyLimiter struct {
	s *Store
	// interval is the time one request uses up; burst is how many requests
	// may come at once (perMinute, as in the Redis variant).
	interval time.Duration
	burst    int
}

// KeyLimiter returns the per-key limiter allowing perMinute requests a
// minute with a burst of the same size, or an error for perMinute <= 0.
func (s *Store) KeyLimiter(perMinute int) (*KeyLimiter, error) {
	if perMinute <= 0 {
		return nil, errors.New("postgres: key limiter: perMinute must be positive")
	}
	return &KeyLimiter{s: s, interval: time.Minute / time.Duration(perMinute), burst: perMinute}, nil
}

// Allow takes one request for name (an API key's id). When none is left it
// returns false and how long until one is. An error means the database did
// not answer; the caller decides how to fall back.
//
// The request is allowed when the key's arrival time, moved on by one
// interval, is at most burst intervals ahead of now; the upsert moves it
// only then, in one statement, so concurrent requests from any instance
// serialise on the key's row.
func (l *KeyLimiter) Allow(ctx context.Context, name string) (time.Duration, bool, error) {
	step, window := l.interval.Microseconds(), (time.Duration(l.burst) * l.interval).Microseconds()
	var allowed bool
	err := l.s.pool.QueryRow(ctx, `INSERT INTO key_rate (name, tat) VALUES ($1, now() + $2 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET tat = greatest(key_rate.tat, now()) + $2 * interval '1 microsecond'
		WHERE greatest(key_rate.tat, now()) + ($2 - $3) * interval '1 microsecond' <= now()
		RETURNING true`, name, step, window).Scan(&allowed)
	if err == nil {
		return 0, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("postgres: key rate: %w", err)
	}
	var waitMicros int64
	if err := l.s.pool.QueryRow(ctx, `SELECT (extract(epoch FROM greatest(tat, now()) - now()) * 1e6)::bigint
		FROM key_rate WHERE name = $1`, name).Scan(&waitMicros); err != nil {
		return 0, false, fmt.Errorf("postgres: key rate: %w", err)
	}
	wait := time.Duration(waitMicros)*time.Microsecond + time.Duration(step-window)*time.Microsecond
	return max(wait, time.Millisecond), false, nil
}

// Spend keeps each UTC day's model spending of every instance sharing the
// database, one row per day. It implements budget.SpendStore.
type Spend struct {
	s *Store
}

// Spend returns the shared daily spending.
func (s *Store) Spend() *Spend { return &Spend{s: s} }

// Add adds usd to day's total ("2006-01-02") and returns the new total, in
// one upsert.
func (sp *Spend) Add(ctx context.Context, day string, usd float64) (float64, error) {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, fmt.Errorf("postgres: spend: bad day %q", day)
	}
	var total float64
	if err := sp.s.pool.QueryRow(ctx, `INSERT INTO daily_spend (day, usd) VALUES ($1, $2)
		ON CONFLICT (day) DO UPDATE SET usd = daily_spend.usd + excluded.usd RETURNING usd`, d, usd).Scan(&total); err != nil {
		return 0, fmt.Errorf("postgres: spend: %w", err)
	}
	return total, nil
}

// Spent returns day's total (0 for a day without spending).
func (sp *Spend) Spent(ctx context.Context, day string) (float64, error) {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, fmt.Errorf("postgres: spend: bad day %q", day)
	}
	var total float64
	err = sp.s.pool.QueryRow(ctx, `SELECT usd FROM daily_spend WHERE day = $1`, d).Scan(&total)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: spend: %w", err)
	}
	return total, nil
}
