package server

import (
	"context"
	"errors"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
)

// start runs the feed and queue loops and the deferred sweep until the
// server's done channel closes.
func (d *intakeDesk) start() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-d.s.done; cancel() }()
	for i := range d.cfg.File.Sources {
		src := &d.cfg.File.Sources[i]
		switch {
		case d.cfg.NoPolling:
		case src.Feed != "":
			d.s.background.Go(func() { d.feedLoop(ctx, src) })
		case src.Queue != nil && d.cfg.Queues != nil:
			d.s.background.Go(func() { d.queueLoop(ctx, src) })
		}
	}
	if d.cfg.DeferredSweep > 0 {
		d.s.background.Go(func() {
			t := time.NewTicker(d.cfg.DeferredSweep)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := d.sweepDeferred(ctx); err != nil && ctx.Err() == nil {
						d.s.log.Warn("intake: admitting deferred items", "err", err)
					}
				}
			}
		})
	}
}

// wait sleeps for d or until ctx ends; false when it ended.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *intakeDesk) feedLoop(ctx context.Context, src *intake.Source) {
	f := d.feeds[src.Name]
	for {
		d.pollFeed(ctx, src, f)
		mu := d.feedMu[src.Name]
		mu.Lock()
		next := f.Next()
		mu.Unlock()
		if !wait(ctx, next) {
			return
		}
	}
}

// pollFeed polls a feed once and admits its items, newest first.
func (d *intakeDesk) pollFeed(ctx context.Context, src *intake.Source, f *intake.Feed) error {
	mu := d.feedMu[src.Name] // one poll of a feed at a time (its loop, PollFeeds)
	mu.Lock()
	items, err := f.Poll(ctx)
	failures := f.Failures()
	mu.Unlock()
	d.recordPoll(src.Name, err)
	if err != nil {
		if ctx.Err() == nil {
			d.s.log.Warn("intake: polling a feed", "source", src.Name, "failures", failures, "err", err)
		}
		return err
	}
	var errs []error
	for _, it := range items {
		if _, _, err := d.admit(ctx, src, it); err != nil {
			d.recordPoll(src.Name, err)
			errs = append(errs, err)
			if errors.Is(err, errIntakeStopped) {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// PollFeeds polls every feed of the intake file once and admits their new
// items (an Azure Functions timer trigger; `serve` polls on its own).
func (s *Server) PollFeeds(ctx context.Context) error {
	if s.intake == nil {
		return errors.New("server: no intake file")
	}
	var errs []error
	for i := range s.intake.cfg.File.Sources {
		src := &s.intake.cfg.File.Sources[i]
		if f, ok := s.intake.feeds[src.Name]; ok {
			errs = append(errs, s.intake.pollFeed(ctx, src, f))
		}
	}
	return errors.Join(errs...)
}

// queueVisibility is how long a received queue message stays hidden.
const queueVisibility = intake.DefaultVisibility

func (d *intakeDesk) queueLoop(ctx context.Context, src *intake.Source) {
	var q intake.QueueClient
	failures := 0
	for {
		err := d.pollQueue(ctx, src, &q)
		d.recordPoll(src.Name, err)
		next := src.Interval()
		if err != nil {
			failures++
			if ctx.Err() == nil {
				d.s.log.Warn("intake: polling a queue", "source", src.Name, "err", err)
			}
			next = min(next<<min(failures, 6), time.Hour)
		} else {
			failures = 0
		}
		if !wait(ctx, next) {
			return
		}
	}
}

// pollQueue receives what the queue holds, a batch at a time, and turns each
// message into a run.
func (d *intakeDesk) pollQueue(ctx context.Context, src *intake.Source, q *intake.QueueClient) error {
	if *q == nil {
		c, err := d.cfg.Queues(ctx, src)
		if err != nil {
			return err
		}
		*q = c
	}
	for range 10 { // at most 10 batches a poll, so a flood yields to the rest
		msgs, err := (*q).Receive(ctx, 16, queueVisibility)
		if err != nil || len(msgs) == 0 {
			return err
		}
		for _, m := range msgs {
			if err := d.processMessage(ctx, src, *q, m); errors.Is(err, errIntakeStopped) {
				return nil
			}
		}
	}
	return nil
}

// processMessage turns one queue message into one run (intake.Process).
func (d *intakeDesk) processMessage(ctx context.Context, src *intake.Source, q intake.QueueClient, m intake.Message) error {
	err := intake.Process(ctx, q, src, m, queueVisibility, func(ctx context.Context, it intake.Item) error {
		_, _, err := d.admit(ctx, src, it)
		return err
	})
	if err != nil && !errors.Is(err, errIntakeStopped) {
		d.recordPoll(src.Name, err)
		d.s.log.Warn("intake: a queue message", "source", src.Name, "message", m.ID, "err", err)
	}
	return err
}

// AdmitQueueMessage turns one message of a queue source into its run (an
// Azure Functions queue trigger, whose host deletes the message when this
// returns nil and moves it to NAME-poison itself after its max dequeue
// count). It returns the run's id ("" when the caps deferred the item).
func (s *Server) AdmitQueueMessage(ctx context.Context, source string, m intake.Message) (string, error) {
	if s.intake == nil {
		return "", errors.New("server: no intake file")
	}
	src, ok := s.intake.cfg.File.Lookup(source)
	if !ok || src.Queue == nil {
		return "", errors.New("server: no queue source is named " + source)
	}
	item, err := intake.ParseMessage(m.ID, []byte(m.Text))
	if err != nil {
		return "", err
	}
	item.ID = m.ID
	_, id, err := s.intake.admit(ctx, src, item)
	return id, err
}
