// Package console prints a team run to a terminal the way AutoGen's Console
// does: a header per speaker, the speaker's tokens as they arrive, then a
// summary with messages, stop reason, tokens, cost and duration.
package console

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

// Printer writes a run's events as they happen. Feed it one run's events
// in order; Live's ticker may run beside Handle.
type Printer struct {
	mu sync.Mutex
	w  io.Writer
	// open is true while a streamed message is being printed.
	open    bool
	speaker string

	// The live status line (see Live): who is working since when, and
	// whether a status line is on the screen now.
	live    bool
	working []string
	waiting bool // a call is in flight and nothing of it is printed yet
	since   time.Time
	frame   int
	drawn   bool

	emulated bool
}

// New returns a Printer writing to w.
func New(w io.Writer) *Printer { return &Printer{w: w} }

// spinner is the status line's animation.
var spinner = [...]string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Live shows, while a model call is in flight and nothing of its answer is
// printed yet, a status line saying who is working, with a spinner and the
// seconds waited; the line is erased before the answer is printed. It is
// for terminals only (it draws with a carriage return and an erase-line
// escape). The returned function stops it.
func (p *Printer) Live(interval time.Duration) (stop func()) {
	p.mu.Lock()
	p.live = true
	p.mu.Unlock()
	t := time.NewTicker(interval)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case now := <-t.C:
				p.tick(now)
			case <-done:
				return
			}
		}
	}()
	return func() {
		t.Stop()
		close(done)
		<-finished
		p.mu.Lock()
		p.clearLocked()
		p.live = false
		p.mu.Unlock()
	}
}

// tick redraws the status line.
func (p *Printer) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live || !p.waiting || p.open {
		return
	}
	who := "choosing the next speaker"
	switch len(p.working) {
	case 0:
	case 1:
		who = p.working[0] + " is writing"
	default:
		who = strings.Join(p.working, ", ") + " are writing"
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s %s… %ds", spinner[p.frame%len(spinner)], who, int(now.Sub(p.since).Seconds()))
	p.frame++
	p.drawn = true
}

// clearLocked erases the status line if one is drawn.
func (p *Printer) clearLocked() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// track follows who is working, for the status line.
func (p *Printer) track(e team.Event) {
	switch e.Type {
	case team.EventRunStarted:
		p.working, p.waiting, p.since = nil, true, time.Now()
	case team.EventSpeakerSelected:
		p.working = append(p.working, e.Speaker)
		p.waiting, p.since = true, time.Now()
	case team.EventDelta:
		p.waiting = false
	case team.EventMessage:
		for i, w := range p.working {
			if w == e.Speaker {
				p.working = append(p.working[:i], p.working[i+1:]...)
				break
			}
		}
		p.waiting = true
		if len(p.working) == 0 {
			p.since = time.Now() // the next call: the selector's, or the next speaker's
		}
	default: // finished, or waiting for a person
		p.working, p.waiting = nil, false
	}
}

func (p *Printer) header(title string) {
	fmt.Fprintf(p.w, "---------- %s ----------\n", title)
}

// Handle prints one event.
func (p *Printer) Handle(e team.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.track(e)
	switch e.Type {
	case team.EventRunStarted:
		if e.Resumed {
			p.header("resumed after " + Plural(e.Index, "message", "messages"))
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
		line := usageLine(m.Usage, m.Cached)
		if m.Similarity > 0 {
			line += fmt.Sprintf(": similar %.3f", m.Similarity) // "cached: similar 0.981"
		}
		fmt.Fprintf(p.w, "[%s]\n", line)
	case team.EventToolCall, team.EventToolResult, team.EventSource, team.EventGrounding, team.EventSecurity:
		p.toolEvent(e)
	case team.EventRunFinished:
		if p.open {
			fmt.Fprintln(p.w)
			p.open = false
		}
	}
}

func usageLine(u model.Usage, cached bool) string {
	s := fmt.Sprintf("Prompt tokens: %d, Completion tokens: %d", u.PromptTokens, u.CompletionTokens)
	if u.ReasoningTokens > 0 {
		s += fmt.Sprintf(" (%d reasoning)", u.ReasoningTokens)
	}
	if u.CostUSD > 0 {
		s += fmt.Sprintf(", Cost: $%.6f", u.CostUSD)
	}
	if cached {
		s += ", cached"
	}
	return s
}

// SetEmulated says the answers come from the built-in emulator: the summary
// then says the costs are not a bill.
func (p *Printer) SetEmulated(emulated bool) {
	p.mu.Lock()
	p.emulated = emulated
	p.mu.Unlock()
}

// Summary prints the summary of a finished run.
func (p *Printer) Summary(res *team.Result, modelName string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.header("Summary")
	fmt.Fprintf(p.w, "Number of messages: %d\n", len(res.Messages)+1)
	fmt.Fprintf(p.w, "Finish reason: %s\n", res.StopReason)
	fmt.Fprintf(p.w, "Total prompt tokens: %d\n", res.Usage.PromptTokens)
	fmt.Fprintf(p.w, "Total completion tokens: %d\n", res.Usage.CompletionTokens)
	if res.Usage.ReasoningTokens > 0 {
		fmt.Fprintf(p.w, "Total reasoning tokens: %d (part of the completion tokens, billed as output)\n", res.Usage.ReasoningTokens)
	}
	if res.Usage.CachedResponses > 0 {
		fmt.Fprintf(p.w, "Cached responses: %d of %s\n", res.Usage.CachedResponses, Plural(res.Usage.Requests, "model call", "model calls"))
	}
	fmt.Fprintf(p.w, "Cost: $%.6f", res.Usage.CostUSD)
	if res.Usage.SavedTokens > 0 || res.Usage.SavedUSD > 0 {
		// What the cache saved, so a cached run does not read as a bare $0.
		fmt.Fprintf(p.w, " (cached: %s tokens, %s not spent)", Thousands(res.Usage.SavedTokens), USD(res.Usage.SavedUSD))
	} else if len(res.PerAgent) > 0 {
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
	if p.emulated {
		fmt.Fprintln(p.w, "Emulated: the offline emulator answered; the cost is what these tokens would cost, not a bill")
	}
	if modelName != "" {
		fmt.Fprintf(p.w, "Model: %s\n", modelName)
	}
	fmt.Fprintf(p.w, "Duration: %.2f seconds\n", res.Duration.Round(10*time.Millisecond).Seconds())
	p.sourcesSummary(res)
}

// Plural writes a count with the singular or plural noun: "1 message",
// "2 messages".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}

// Thousands writes n with comma separators: 1,568.
func Thousands(n int) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// USD writes an amount for people: $12.34 from a dollar up, else four
// decimals ($0.0066), or six when that would show nothing ($0.000012).
func USD(v float64) string {
	switch {
	case v >= 1:
		return fmt.Sprintf("$%.2f", v)
	case v == 0 || v >= 0.00005:
		return fmt.Sprintf("$%.4f", v)
	default:
		return fmt.Sprintf("$%.6f", v)
	}
}
