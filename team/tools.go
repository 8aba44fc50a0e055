package team

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/tool"
)

// Tool events, sources and the grounding gate.

// Events of tool use, sources and grounding.
const (
	// EventToolCall says an agent called a tool (Speaker, Tool without a result).
	EventToolCall EventType = "tool_call"
	// EventToolResult carries a call's result (Speaker, Tool; Source when it read a document).
	EventToolResult EventType = "tool_result"
	// EventSource carries a document given to the run before it started (Source).
	EventSource EventType = "source"
	// EventGrounding carries the grounding check of the article when the
	// team's work was done (Grounding).
	EventGrounding EventType = "grounding"
)

// Names of the run's own message sources.
const (
	// GroundingCheck is the source of the message listing unsupported claims.
	GroundingCheck = "Grounding_Check"
	// SourceDocuments is the source of the message that hands the team the
	// documents given before the run (--source).
	SourceDocuments = "Source_Documents"
)

// Grounding is the result of a grounding check of the article.
type Grounding struct {
	// Checked is the number of claims checked (0 when skipped).
	Checked int `json:"checked"`
	// Unsupported lists the claims found neither in the task nor in a source.
	Unsupported []string `json:"unsupported,omitempty"`
	// Skipped says why nothing was checked ("no sources"), if so.
	Skipped string `json:"skipped,omitempty"`
	// Author is the agent that wrote the article; a held approval sends the
	// team back to it.
	Author string `json:"author,omitempty"`
}

// GroundingReport is a grounding check as programs read it (`newsroom run
// --format json`, the service's runs): the claims checked and those
// unsupported ([] when every claim was found) with the article's author, or
// {"checked": 0, "skipped": "no sources"}.
type GroundingReport struct {
	Checked     int      `json:"checked"`
	Unsupported []string `json:"unsupported,omitzero"`
	// Author is the agent whose article was checked: the desk's writer.
	Author  string `json:"author,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// Report returns the check as a GroundingReport; nil for nil.
func (g *Grounding) Report() *GroundingReport {
	if g == nil {
		return nil
	}
	if g.Skipped != "" {
		return &GroundingReport{Skipped: g.Skipped}
	}
	return &GroundingReport{Checked: g.Checked, Unsupported: append([]string{}, g.Unsupported...), Author: g.Author}
}

// Material is what an article may draw on: the task and the documents the
// run read.
type Material struct {
	Task string
	// Documents are the texts of the sources (tool results and documents
	// given before the run).
	Documents []string
}

// GroundingFunc checks the article of a run against its material.
type GroundingFunc func(msgs []agent.Message, m Material) Grounding

// WithGrounding makes a stop that means the work is done (termination.Done)
// wait for check: if the article makes claims the material does not
// contain, the stop does not stand, the list goes to the article's author as
// a message from GroundingCheck, and the team goes on within its caps. A
// cap reached while claims are still unsupported ends the run with a stop
// reason of kind "grounding". A run that ends without a check having run (a
// cap, a failure, an outside stop) yields the check of its final article
// just before run_finished, so every finished run's stream has one.
func WithGrounding(check GroundingFunc) RunOption { return func(o *runOptions) { o.grounding = check } }

// WithSources gives the run documents read before it started: they are
// numbered first, recorded as EventSource events, and handed to the team as
// a message from SourceDocuments. A resumed run that already has them
// ignores them.
func WithSources(docs []*tool.Source) RunOption { return func(o *runOptions) { o.sources = docs } }

// Number numbers a source: a URL the run has read before keeps its number.
// The agents of a parallel batch call it at once.
func (s *state) Number(src tool.Source) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.sources {
		if have.URL == src.URL {
			return have.ID
		}
	}
	src.ID = len(s.sources) + 1
	s.sources = append(s.sources, src)
	return src.ID
}

// material returns the task and every document the run has read: the
// documents' texts as the tools returned them, and the sources message.
func (s *state) material() Material {
	m := MaterialOf(s.task, s.messages)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, src := range s.sources {
		if src.Text != "" {
			m.Documents = append(m.Documents, src.Text)
		}
	}
	m.addResults(s.pending)
	return m
}

// MaterialOf returns what the articles of a conversation may draw on: the
// task, the results of the tool calls of its messages, and the documents
// handed to the team before it started.
func MaterialOf(task string, msgs []agent.Message) Material {
	m := Material{Task: task}
	for _, msg := range msgs {
		if msg.Source == SourceDocuments {
			m.Documents = append(m.Documents, msg.Content)
		}
		m.addResults(msg.ToolCalls)
	}
	return m
}

// addResults adds the results of the tool calls that did not fail: what a
// tool returned is material, an error message is not.
func (m *Material) addResults(calls []agent.ToolExchange) {
	for _, ex := range calls {
		if !ex.IsError {
			m.Documents = append(m.Documents, ex.Result)
		}
	}
}

// HasMaterial reports whether there is anything to check an article
// against: documents, or a task given as facts ("Facts: ...").
func (m Material) HasMaterial() bool {
	return len(m.Documents) > 0 || strings.HasPrefix(strings.ToLower(strings.TrimSpace(m.Task)), "facts:")
}

// WithSpotlight makes the run hand the documents given before it (WithSources)
// to the team each as wrap(origin, text): inside the run's boundaries (see
// package untrusted).
func WithSpotlight(wrap func(origin, text string) string) RunOption {
	return func(o *runOptions) { o.spotlight = wrap }
}

// sourcesMessage hands documents given before the run to the team.
func sourcesMessage(docs []tool.Source, wrap func(origin, text string) string) string {
	var b strings.Builder
	b.WriteString("Source documents for this assignment. Use them as your facts and cite them by number, as [1], [2].\n")
	for _, d := range docs {
		b.WriteString("\n[" + strconv.Itoa(d.ID) + "] ")
		if d.Title != "" {
			b.WriteString(d.Title + " — ")
		}
		b.WriteString(d.URL + "\n")
		if wrap != nil {
			b.WriteString(wrap("source document "+d.URL, strings.TrimSpace(d.Text)))
		} else {
			b.WriteString(strings.TrimSpace(d.Text))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// groundingFeedback is the message that sends an article back.
func groundingFeedback(g Grounding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The article cannot be approved yet: %d of its claims appear neither in the task nor in any source:\n", len(g.Unsupported))
	for _, c := range g.Unsupported {
		b.WriteString("- " + c + "\n")
	}
	b.WriteString("Remove these claims or state only what the task and the sources say, then send the whole revised article.")
	return b.String()
}

// groundingStop is the stop reason of a run whose cap was reached while
// claims were still unsupported.
func groundingStop(cap string) string {
	return "grounding: unsupported claims remained when the run reached its cap (" + cap + ")"
}

// giveSources registers the documents given before the run and hands them
// to the team, once. It reports whether the stream goes on.
func (r *run) giveSources(docs []*tool.Source) bool {
	st := r.st
	for _, m := range st.messages {
		if m.Source == SourceDocuments {
			return true // a resumed run has them already
		}
	}
	var given []tool.Source
	for _, d := range docs {
		if d == nil {
			continue
		}
		c := *d
		c.ID = st.Number(c)
		given = append(given, c)
		e := r.event(EventSource)
		src := c
		e.Source = &src
		if !r.emit(e) {
			return false
		}
	}
	if len(given) == 0 {
		return true
	}
	return r.emit(st.record(agent.Message{Source: SourceDocuments, Content: sourcesMessage(given, r.o.spotlight)}, r.now))
}

// ground runs the grounding check when the team's work is done.
// Unsupported claims hold the run's end: they go to the team as a message
// from GroundingCheck, and the article's author speaks next. It reports
// whether claims held the end, and whether the stream goes on.
func (r *run) ground() (held, ok bool) {
	st := r.st
	m := st.material()
	var g Grounding
	if m.HasMaterial() {
		g = r.o.grounding(st.messages, m)
	} else {
		g = Grounding{Skipped: "no sources"}
	}
	st.held = len(g.Unsupported) > 0
	r.grounded = true
	e := r.event(EventGrounding)
	gc := g
	e.Grounding = &gc
	if !r.emit(e) {
		return st.held, false
	}
	if !st.held {
		return false, true
	}
	if g.Author != "" && r.b.byName[g.Author] != nil {
		r.next = g.Author
	}
	return true, r.emit(st.record(agent.Message{Source: GroundingCheck, Content: groundingFeedback(g)}, r.now))
}
