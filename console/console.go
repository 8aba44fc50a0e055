// Package console prints a team run to a terminal the way AutoGen's Console
// does: a header per speaker, the speaker's tokens as they arrive, then a
// summary with messages, stop reason, tokens, cost and duration.
package console

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

// Printer writes a run's events as they happen. It is not safe for
// concurrent use: feed it one run's events in order.
type Printer struct {
	w io.Writer
	// open is true while a streamed message is being printed.
	open    bool
	speaker string
}

// New returns a Printer writing to w.
func New(w io.Writer) *Printer { return &Printer{w: w} }

func (p *Printer) header(title string) {
	fmt.Fprintf(p.w, "---------- %s ----------\n", title)
}

// Handle prints one event.
func (p *Printer) Handle(e team.Event) {
	switch e.Type {
	case team.EventRunStarted:
		if e.Resumed {
			p.header(fmt.Sprintf("resumed after %d messages", e.Index))
			return
		}
		p.header("user")
		fmt.Fprintln(p.w, e.Task)
	case team.EventDelta:
		if !p.open || p.speaker != e.Speaker {
			p.header(e.Speaker)
			p.open, p.speaker = true, e.Speaker
		}
		if e.Restart {
			fmt.Fprint(p.w, "\n[the stream was cut; starting the message again]\n")
		}
		fmt.Fprint(p.w, e.Delta)
	case team.EventMessage:
		m := e.Message
		if !p.open || p.speaker != e.Speaker {
			p.header(e.Speaker)
			fmt.Fprint(p.w, m.Content)
		}
		p.open = false
		fmt.Fprintln(p.w)
		fmt.Fprintf(p.w, "[%s]\n", usageLine(m.Usage, m.Cached))
	case team.EventRunFinished:
		if p.open {
			fmt.Fprintln(p.w)
			p.open = false
		}
	}
}

func usageLine(u model.Usage, cached bool) string {
	s := fmt.Sprintf("Prompt tokens: %d, Completion tokens: %d", u.PromptTokens, u.CompletionTokens)
	if u.CostUSD > 0 {
		s += fmt.Sprintf(", Cost: $%.6f", u.CostUSD)
	}
	if cached {
		s += ", cached"
	}
	return s
}

// Summary prints the summary of a finished run.
func (p *Printer) Summary(res *team.Result, modelName string) {
	p.header("Summary")
	fmt.Fprintf(p.w, "Number of messages: %d\n", len(res.Messages)+1)
	fmt.Fprintf(p.w, "Finish reason: %s\n", res.StopReason)
	fmt.Fprintf(p.w, "Total prompt tokens: %d\n", res.Usage.PromptTokens)
	fmt.Fprintf(p.w, "Total completion tokens: %d\n", res.Usage.CompletionTokens)
	if res.Usage.CachedResponses > 0 {
		fmt.Fprintf(p.w, "Cached responses: %d of %d model calls\n", res.Usage.CachedResponses, res.Usage.Requests)
	}
	fmt.Fprintf(p.w, "Cost: $%.6f", res.Usage.CostUSD)
	if len(res.PerAgent) > 0 {
		names := make([]string, 0, len(res.PerAgent))
		for n := range res.PerAgent {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, 0, len(names))
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s $%.6f", n, res.PerAgent[n].CostUSD))
		}
		fmt.Fprintf(p.w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(p.w)
	if modelName != "" {
		fmt.Fprintf(p.w, "Model: %s\n", modelName)
	}
	fmt.Fprintf(p.w, "Duration: %.2f seconds\n", res.Duration.Round(10*time.Millisecond).Seconds())
}
