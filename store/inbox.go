package store

import (
	"context"
	"time"
)

// IntakeRef names the intake source and item a run was started by.
type IntakeRef struct {
	Source string `json:"source"`
	Item   string `json:"item"`
	Title  string `json:"title,omitempty"`
}

// InboxItem is an item an intake source delivered, as the inbox keeps it:
// (Source, Item) is unique, so an item starts at most one run, across
// restarts and across the instances sharing the store.
type InboxItem struct {
	Source string `json:"source"`
	Item   string `json:"item"`
	Title  string `json:"title,omitempty"`
	// RunID is the run the item started; empty while it is deferred.
	RunID string `json:"run_id,omitempty"`
	// Pending is the run a deferred item will start (task, team, approval,
	// options), kept so that a later admission needs nothing from its source.
	Pending *Run `json:"pending,omitempty"`
	// SeenAt is when the item was first recorded; AdmittedAt when its run
	// was created (zero while deferred).
	SeenAt     time.Time `json:"seen_at"`
	AdmittedAt time.Time `json:"admitted_at,omitzero"`
	// MaxPerHour, when above zero, is the source's hourly cap, kept by
	// AdmitItem in the admitting transaction (serialised per source): when
	// the source already has MaxPerHour runs admitted in the hour before the
	// run's CreatedAt, the item is recorded as deferred with the run as
	// Pending (created true, RunID empty). It is not stored.
	MaxPerHour int `json:"-"`
}

// InboxStats are one source's totals in the inbox.
type InboxStats struct {
	Source string `json:"source"`
	// Items are the items recorded, Runs those that started a run, Deferred
	// those waiting for room under the caps.
	Items    int `json:"items"`
	Runs     int `json:"runs"`
	Deferred int `json:"deferred"`
	// RunsSince are the runs admitted at or after the time InboxStats was
	// asked about (the hourly cap's window).
	RunsSince int `json:"runs_since"`
}

// Inbox keeps the items of intake sources, and creates each one's run
// exactly once.
type Inbox interface {
	// AdmitItem records item and, when run is not nil, creates run for it
	// in the same transaction, with the inbox row naming the run. When the
	// item is new, or recorded but deferred, run is created and created is
	// true; when the item has a run already, nothing is written and the
	// stored item is returned (created false). With run nil the item is
	// recorded as deferred (item.Pending is the run to create later) unless
	// it is recorded already. Of concurrent admissions of one item, across
	// instances too, exactly one creates a run.
	AdmitItem(ctx context.Context, item InboxItem, run *Run) (stored InboxItem, created bool, err error)
	// DeferredItems returns up to limit deferred items, oldest first;
	// limit <= 0 means 100.
	DeferredItems(ctx context.Context, limit int) ([]InboxItem, error)
	// InboxStats returns each source's totals, RunsSince counting the runs
	// admitted at or after since.
	InboxStats(ctx context.Context, since time.Time) ([]InboxStats, error)
}
