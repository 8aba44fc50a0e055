package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// Intake: the sources of an intake file start runs by themselves, each item
// at most once. The store's inbox is what makes it once: an item's run is
// created in the same transaction as its inbox row, whose key is the source
// and the item's identity, so a restart, a redelivered queue message or
// another instance polling the same feed finds the item there and creates
// nothing. The caps (the source's hourly runs, the daily budget, the run
// queue) defer an item instead: it is recorded with the run it will start,
// and a sweep admits it when there is room.

// IntakeConfig configures intake (Config.Intake).
type IntakeConfig struct {
	// File is the intake file's sources. Required.
	File *intake.File
	// HTTPClient reads the feeds: the fetch tools' client, under the
	// network guard and the fetch allow list. Required with feeds.
	HTTPClient *http.Client
	// Secret resolves a secret reference of the file (env:VAR,
	// keyvault:NAME) to its value. Required with webhooks.
	Secret func(ctx context.Context, ref string) (string, error)
	// Queues opens the client of a queue source; nil means queue sources
	// are not polled here (an Azure Functions queue trigger may deliver
	// their messages instead: AdmitQueueMessage).
	Queues func(ctx context.Context, src *intake.Source) (intake.QueueClient, error)
	// BudgetLeft reports whether the daily budget leaves room for another
	// run; nil means it always does.
	BudgetLeft func(ctx context.Context) bool
	// MaxFeedBytes bounds a feed document; 0 means intake.DefaultMaxFeedBytes.
	MaxFeedBytes int64
	// DeferredSweep is how often deferred items are retried; 0 means 30s,
	// negative means never (tests call the sweep themselves).
	DeferredSweep time.Duration
	// NoPolling turns the feed and queue loops off: an Azure Functions
	// timer (PollFeeds) or tests drive them.
	NoPolling bool
	// AdmitOnly is for a process that creates runs and leaves them to the
	// `serve` instances sharing its store (`newsroom functions`): it never
	// queues or claims them, and the run queue bound is theirs, not its.
	AdmitOnly bool
}

// intakeOwner is the owner of the runs a source starts.
func intakeOwner(source string) string { return "intake:" + source }

// intakeDesk is the server's intake: the sources, their secrets, and what
// this instance saw of each (the store keeps the totals).
type intakeDesk struct {
	s       *Server
	cfg     IntakeConfig
	secrets map[string][]byte

	mu    sync.Mutex
	stats map[string]*sourceState
	feeds map[string]*intake.Feed

	// feedMu serialises the polls of each feed (a Feed is not safe for
	// concurrent use: its loop and PollFeeds may meet).
	feedMu map[string]*sync.Mutex

	// admitMu makes the caps' check and the count of admissions in flight
	// one step, so concurrent items of this instance cannot overrun them.
	admitMu  sync.Mutex
	inflight map[string]int
}

// sourceState is what this instance saw of a source.
type sourceState struct {
	lastPoll  time.Time
	lastError string
	errors    int
	seen      int
	created   int
	deferred  int
	// known are the runs of item identities the inbox has, so a feed's
	// unchanged items are not rendered and looked up again each poll.
	known map[string]string
}

// maxKnown bounds a source's known identities; past it the set restarts
// (the inbox still decides).
const maxKnown = 20000

func newIntakeDesk(ctx context.Context, s *Server, cfg IntakeConfig) (*intakeDesk, error) {
	if cfg.File == nil {
		return nil, errors.New("server: Intake.File is required")
	}
	if cfg.DeferredSweep == 0 {
		cfg.DeferredSweep = 30 * time.Second
	}
	d := &intakeDesk{s: s, cfg: cfg, secrets: map[string][]byte{}, stats: map[string]*sourceState{},
		feeds: map[string]*intake.Feed{}, feedMu: map[string]*sync.Mutex{}, inflight: map[string]int{}}
	for i := range cfg.File.Sources {
		src := &cfg.File.Sources[i]
		d.stats[src.Name] = &sourceState{known: map[string]string{}}
		if !slices.Contains(s.cfg.Teams.Names(), src.Desk) {
			return nil, fmt.Errorf("server: intake source %s: unknown desk %q", src.Name, src.Desk)
		}
		switch {
		case src.Feed != "" && cfg.HTTPClient == nil:
			return nil, fmt.Errorf("server: intake source %s: a feed needs Intake.HTTPClient", src.Name)
		case src.Feed != "":
			d.feeds[src.Name] = intake.NewFeed(src, intake.FeedOptions{Client: cfg.HTTPClient, MaxBytes: cfg.MaxFeedBytes, Now: s.now()})
			d.feedMu[src.Name] = &sync.Mutex{}
		case src.Webhook != nil:
			if cfg.Secret == nil {
				return nil, fmt.Errorf("server: intake source %s: a webhook needs Intake.Secret", src.Name)
			}
			v, err := cfg.Secret(ctx, src.Webhook.Secret)
			if err != nil {
				return nil, fmt.Errorf("server: intake source %s: secret: %w", src.Name, err)
			}
			if v == "" {
				return nil, fmt.Errorf("server: intake source %s: the secret %s is empty", src.Name, src.Webhook.Secret)
			}
			d.secrets[src.Name] = []byte(v)
		}
	}
	return d, nil
}

// outcome is what became of an item.
type outcome int

const (
	outcomeCreated   outcome = iota // its run was created now
	outcomeDuplicate                // it had a run already (or was deferred already)
	outcomeDeferred                 // the caps deferred it
)

// errIntakeStopped refuses items while the service shuts down: a queue
// message stays on its queue, a webhook is told to retry.
var errIntakeStopped = errors.New("server: intake stopped: the service is shutting down")

// itemKey is the inbox identity of an item: its id, hashed when too long.
func itemKey(id string) string {
	if len(id) <= 500 {
		return id
	}
	h := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(h[:])
}

// admit creates the run of one item, or defers it, or finds it done. It
// returns the run's id when the item has one.
func (d *intakeDesk) admit(ctx context.Context, src *intake.Source, item intake.Item) (outcome, string, error) {
	if d.s.draining.Load() {
		return 0, "", errIntakeStopped
	}
	key := itemKey(item.ID)
	if key == "" {
		return 0, "", errors.New("server: intake item without an identity")
	}
	st := d.state(src.Name)
	if id := d.knownRun(st, key); id != "" {
		return outcomeDuplicate, id, nil
	}
	d.mu.Lock()
	st.seen++
	d.mu.Unlock()
	run, err := d.pendingRun(src, key, item)
	if err != nil {
		return 0, "", err
	}
	o, id, err := d.admitRun(ctx, src, store.InboxItem{Source: src.Name, Item: key, Title: item.Title}, run)
	if err == nil && id != "" {
		d.markKnown(st, key, id)
	}
	return o, id, err
}

// pendingRun is the run an item will start: its task, desk, approval, and
// the URLs to read as its sources (fetched when it is admitted; kept as
// documents without text until then).
func (d *intakeDesk) pendingRun(src *intake.Source, key string, item intake.Item) (*store.Run, error) {
	task, err := src.Render(item)
	if err != nil {
		return nil, err
	}
	if len(task) > d.s.cfg.MaxTaskBytes {
		return nil, fmt.Errorf("server: intake source %s: item %s gives a task of %d bytes, over %d", src.Name, key, len(task), d.s.cfg.MaxTaskBytes)
	}
	deskName := src.Desk
	if item.Desk != "" {
		if !d.s.knownTeam(item.Desk) {
			return nil, fmt.Errorf("server: intake source %s: item %s asks for the unknown desk %q", src.Name, key, item.Desk)
		}
		deskName = item.Desk
	}
	var urls []string
	if src.LinkIsSource() && item.Link != "" {
		urls = append(urls, item.Link)
	}
	for _, u := range item.Sources {
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	var docs []store.Document
	for _, u := range urls[:min(len(urls), MaxRunSources)] {
		if web.CheckURL(u) == nil {
			docs = append(docs, store.Document{URL: u})
		}
	}
	run := &store.Run{Owner: intakeOwner(src.Name), Task: task, Team: deskName, Status: store.StatusQueued,
		Options: store.RunOptions{Sources: docs, Intake: &store.IntakeRef{Source: src.Name, Item: key, Title: item.Title}}}
	if src.ApprovalRequired() {
		run.Approval = &store.Approval{Required: true}
	}
	return run, nil
}

// admitRun creates run for the inbox item when the caps leave room (a
// queue slot taken first, as POST /v1/runs does), or records the item as
// deferred.
func (d *intakeDesk) admitRun(ctx context.Context, src *intake.Source, it store.InboxItem, pending *store.Run) (outcome, string, error) {
	if !d.room(ctx, src) {
		it.Pending = pending
		stored, created, err := d.s.store.AdmitItem(ctx, it, nil)
		if err != nil {
			return 0, "", fmt.Errorf("server: intake: %w", err)
		}
		if stored.RunID != "" {
			return outcomeDuplicate, stored.RunID, nil
		}
		return d.deferred(src, it, created), "", nil
	}
	defer d.done(src.Name)
	run := *pending
	now := d.s.now().UTC()
	run.ID, run.CreatedAt, run.UpdatedAt = d.s.newID(), now, now
	run.Options.Sources = d.fetch(ctx, src, pending.Options.Sources)
	it.MaxPerHour = src.HourlyCap() // the store keeps it over every instance
	stored, created, err := d.s.store.AdmitItem(ctx, it, &run)
	switch {
	case d.cfg.AdmitOnly:
		// The serve instances' scans claim it.
	case err != nil || !created || stored.RunID == "":
		d.s.queue.release()
	case !d.s.claimAccepted(ctx, run.ID):
		d.s.queue.release() // another instance's scan took it first
	default:
		d.s.queue.commit(run.ID, run.CreatedAt)
	}
	if err != nil {
		return 0, "", fmt.Errorf("server: intake: %w", err)
	}
	if stored.RunID == "" { // the store found the hourly cap reached
		return d.deferred(src, it, created), "", nil
	}
	if !created {
		return outcomeDuplicate, stored.RunID, nil
	}
	d.mu.Lock()
	d.state(src.Name).created++
	d.mu.Unlock()
	d.s.log.Info("run queued by intake", "run", run.ID, "team", run.Team, "source", src.Name, "item", it.Item)
	return outcomeCreated, run.ID, nil
}

// deferred counts an item recorded as deferred (when created, its first
// recording) and tells so.
func (d *intakeDesk) deferred(src *intake.Source, it store.InboxItem, created bool) outcome {
	if created {
		d.mu.Lock()
		d.state(src.Name).deferred++
		d.mu.Unlock()
		d.s.log.Info("intake item deferred by the caps", "source", src.Name, "item", it.Item)
	}
	return outcomeDeferred
}

// room reports whether the caps let src start a run now: the runs it
// started in the last hour (over every instance, from the inbox) and those
// being admitted here under its hourly cap, the daily budget not spent, a
// slot in the run queue. When they do, it takes the slot and counts the
// admission in flight until done.
func (d *intakeDesk) room(ctx context.Context, src *intake.Source) bool {
	d.admitMu.Lock()
	defer d.admitMu.Unlock()
	stats, err := d.s.store.InboxStats(ctx, d.s.now().Add(-time.Hour))
	if err != nil {
		d.s.log.Warn("intake: reading the inbox's totals; deferring", "source", src.Name, "err", err)
		return false
	}
	recent := d.inflight[src.Name]
	for _, st := range stats {
		if st.Source == src.Name {
			recent += st.RunsSince
		}
	}
	if recent >= src.HourlyCap() {
		return false
	}
	if d.cfg.BudgetLeft != nil && !d.cfg.BudgetLeft(ctx) {
		return false
	}
	if !d.cfg.AdmitOnly && !d.s.queue.reserve() {
		return false
	}
	d.inflight[src.Name]++
	return true
}

// done ends an admission room let in.
func (d *intakeDesk) done(source string) {
	d.admitMu.Lock()
	d.inflight[source]--
	d.admitMu.Unlock()
}

// fetch reads the documents of a run being admitted; one that cannot be
// read is left out (the item is not lost for a dead link).
func (d *intakeDesk) fetch(ctx context.Context, src *intake.Source, docs []store.Document) []store.Document {
	if len(docs) == 0 || d.s.cfg.FetchSources == nil {
		return nil
	}
	var out []store.Document
	for _, doc := range docs {
		if doc.Text != "" {
			out = append(out, doc)
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, sourcesTimeout)
		got, err := d.s.cfg.FetchSources(fctx, []string{doc.URL})
		cancel()
		if err != nil || len(got) == 0 {
			d.s.log.Warn("intake: a source of the item could not be read; the run goes without it", "source", src.Name, "err", err)
			continue
		}
		g := got[0]
		nd := store.Document{URL: g.URL, Title: g.Title, FetchedAt: g.FetchedAt.UTC(), Text: g.Text}
		if g.URL != doc.URL {
			nd.AskedURL = doc.URL
		}
		out = append(out, nd)
	}
	return out
}

func (d *intakeDesk) state(name string) *sourceState {
	st, ok := d.stats[name]
	if !ok { // not a source of the file: a deferred item of an older one
		st = &sourceState{known: map[string]string{}}
	}
	return st
}

// knownRun is the run of an item this instance saw admitted, "" if none
// (a deferred item is looked up again: the caps may have room now).
func (d *intakeDesk) knownRun(st *sourceState, key string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return st.known[key]
}

func (d *intakeDesk) markKnown(st *sourceState, key, runID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(st.known) >= maxKnown {
		clear(st.known)
	}
	st.known[key] = runID
}

func (d *intakeDesk) recordPoll(name string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.state(name)
	st.lastPoll = d.s.now().UTC()
	if err != nil {
		st.errors++
		st.lastError = err.Error()
	} else {
		st.lastError = ""
	}
}

// sweepDeferred admits deferred items while the caps leave room, oldest
// first; a source without room waits for the next sweep.
func (d *intakeDesk) sweepDeferred(ctx context.Context) error {
	items, err := d.s.store.DeferredItems(ctx, 100)
	if err != nil {
		return fmt.Errorf("server: intake: %w", err)
	}
	full := map[string]bool{}
	for _, it := range items {
		src, ok := d.cfg.File.Lookup(it.Source)
		if !ok || full[it.Source] || it.Pending == nil || d.s.draining.Load() {
			continue
		}
		pending := it.Pending
		it.Pending = nil
		o, _, err := d.admitRun(ctx, src, it, pending)
		if err != nil {
			return err
		}
		if o == outcomeDeferred {
			full[it.Source] = true
		}
	}
	return nil
}
