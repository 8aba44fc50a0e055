// Package intake reads the intake file of `newsroom serve --intake`: the
// feeds, Azure Storage queues and webhooks whose items start runs by
// themselves, each for a desk, through a task template, under caps. It parses
// and checks the file (every problem as file:line:column, as team files are
// checked), turns an item into a task, and reads feeds and signed webhook
// deliveries. Creating the runs, once per item, is the server's, through the
// store's inbox.
package intake

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalid is wrapped by every error about an intake file's content.
var ErrInvalid = errors.New("intake: invalid intake file")

// File is an intake file: the sources whose items start runs.
type File struct {
	Sources []Source `yaml:"sources" required:"true" doc:"the intake sources; each is one of feed, queue or webhook"`
}

// Approval values of a source.
const (
	ApprovalRequired = "required"
	ApprovalNone     = "none"
)

// Source is one intake source. Exactly one of Feed, Queue and Webhook is set.
type Source struct {
	Name    string   `yaml:"name" required:"true" doc:"unique name; the item identity is scoped by it, and a webhook is POST /v1/intake/NAME"`
	Feed    string   `yaml:"feed" doc:"an RSS, Atom or JSON Feed URL (http or https), polled every 'every'"`
	Queue   *Queue   `yaml:"queue" doc:"an Azure Storage queue whose messages are assignments"`
	Webhook *Webhook `yaml:"webhook" doc:"signed deliveries and Azure Event Grid events to POST /v1/intake/NAME"`
	Every   string   `yaml:"every" doc:"poll interval of a feed or queue, a Go duration (default 5m, at least 10s)"`
	Start   string   `yaml:"start" doc:"which items of a feed's first poll count: now (default: none of the backlog), all, or an RFC 3339 time"`
	Desk    string   `yaml:"desk" required:"true" doc:"the desk (team) that writes the story"`
	Task    string   `yaml:"task" doc:"Go text/template over the item: .Title .Summary .Link .Published .Categories .Body"`
	// LinkAsSource nil means true: the item's link is fetched as a run source.
	LinkAsSource   *bool    `yaml:"link_as_source" doc:"whether the item's link is read as a source of the run (default true)"`
	Approval       string   `yaml:"approval" enum:"required,none" doc:"required (default): the story waits for the editor-in-chief; none: it is published when done"`
	Filters        *Filters `yaml:"filters" doc:"which items start a run"`
	MaxRunsPerHour int      `yaml:"max_runs_per_hour" minimum:"0" doc:"runs this source may start in any hour, over every instance; 0 means 10"`
}

// Queue is an Azure Storage queue.
type Queue struct {
	Account string `yaml:"account" doc:"the queue service URL, https://ACCOUNT.queue.core.windows.net; signed in with DefaultAzureCredential"`
	Name    string `yaml:"name" required:"true" doc:"the queue's name; poison messages go to NAME-poison"`
	// ConnectionString is a secret reference (env:VAR or keyvault://VAULT/SECRET),
	// never the string itself.
	ConnectionString string `yaml:"connection_string" doc:"instead of account: a reference to a connection string, env:VAR or keyvault://VAULT/SECRET"`
	MaxDequeues      int    `yaml:"max_dequeues" minimum:"1" maximum:"100" doc:"dequeues after which a message that cannot start a run moves to NAME-poison (default 5)"`
}

// Webhook is a webhook source.
type Webhook struct {
	Secret    string `yaml:"secret" doc:"the HMAC-SHA256 signing secret, a reference env:VAR or keyvault://VAULT/SECRET; required; Event Grid deliveries carry it as ?key="`
	Tolerance string `yaml:"tolerance" doc:"how old a signature's timestamp may be, a Go duration (default 5m)"`
	EventGrid bool   `yaml:"event_grid" doc:"also accept Azure Event Grid deliveries (Event Grid schema and CloudEvents 1.0), authenticated by the secret in the aeg-key header or ?key="`
}

// Filters choose the items that start a run.
type Filters struct {
	KeywordsIn    []string `yaml:"keywords_in" doc:"an item must mention one of these words (title, summary, body; any case)"`
	KeywordsOut   []string `yaml:"keywords_out" doc:"an item mentioning one of these words is skipped"`
	CategoriesIn  []string `yaml:"categories_in" doc:"an item must have one of these categories"`
	CategoriesOut []string `yaml:"categories_out" doc:"an item with one of these categories is skipped"`
	Newest        int      `yaml:"newest" minimum:"0" doc:"take at most this many items of a poll, the newest; 0 means all"`
}

// Defaults.
const (
	DefaultEvery          = 5 * time.Minute
	MinEvery              = 10 * time.Second
	DefaultMaxRunsPerHour = 10
	DefaultMaxDequeues    = 5
	DefaultTolerance      = 5 * time.Minute
)

// Kind is what kind of source s is: "feed", "queue" or "webhook".
func (s *Source) Kind() string {
	switch {
	case s.Feed != "":
		return "feed"
	case s.Queue != nil:
		return "queue"
	case s.Webhook != nil:
		return "webhook"
	}
	return ""
}

// Interval is the poll interval (checked at load).
func (s *Source) Interval() time.Duration {
	if s.Every == "" {
		return DefaultEvery
	}
	d, _ := time.ParseDuration(s.Every)
	return max(d, MinEvery)
}

// LinkIsSource reports whether the item's link becomes a run source.
func (s *Source) LinkIsSource() bool { return s.LinkAsSource == nil || *s.LinkAsSource }

// ApprovalRequired reports whether the source's runs wait for a decision.
func (s *Source) ApprovalRequired() bool { return s.Approval != ApprovalNone }

// HourlyCap is the source's max_runs_per_hour with its default.
func (s *Source) HourlyCap() int {
	if s.MaxRunsPerHour <= 0 {
		return DefaultMaxRunsPerHour
	}
	return s.MaxRunsPerHour
}

// StartTime is the time before which a feed's first poll skips items: now
// for "now" or empty, the zero time for "all" (checked at load).
func (s *Source) StartTime(now time.Time) time.Time {
	switch s.Start {
	case "", "now":
		return now
	case "all":
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, s.Start)
	return t
}

// MaxDequeueCount is the queue's max_dequeues with its default.
func (q *Queue) MaxDequeueCount() int {
	if q.MaxDequeues <= 0 {
		return DefaultMaxDequeues
	}
	return q.MaxDequeues
}

// ToleranceWindow is the webhook's replay tolerance with its default.
func (w *Webhook) ToleranceWindow() time.Duration {
	if w.Tolerance == "" {
		return DefaultTolerance
	}
	d, _ := time.ParseDuration(w.Tolerance)
	return d
}

// Lookup returns the source named name.
func (f *File) Lookup(name string) (*Source, bool) {
	for i := range f.Sources {
		if f.Sources[i].Name == name {
			return &f.Sources[i], true
		}
	}
	return nil, false
}

// String names a source for logs.
func (s *Source) String() string { return fmt.Sprintf("%s %s", s.Kind(), s.Name) }
