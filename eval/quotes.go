package eval

import (
	"strings"

	"github.com/newsroom-dev/newsroom/grounding"
)

// Attribution windows: how far before a quotation's start and after its
// end, in the material's canonical text, the speaker's name is looked for.
const (
	speakerBefore = 160
	speakerAfter  = 100
)

// quotes: each quotation of the body appears in the material (its
// passages in order) and, when the article names its speaker in the same
// sentence, the material names that speaker beside it.
func (ms *measure) quotes(a Article, m Material) {
	text := grounding.Canonical(strings.Join(m.texts(), "\n"))
	var total, ok int
	for _, s := range sentences(a.Body) {
		for _, c := range grounding.Claims(s) {
			if c.Kind != grounding.Quote {
				continue
			}
			total++
			start, end := grounding.QuoteAt(text, c.Text)
			if start < 0 {
				ms.check(QuoteFidelity, false, c.Text, "not found verbatim in the task or a source")
				continue
			}
			speakers := speakersOf(s, c.Text)
			if len(speakers) == 0 {
				ms.check(QuoteFidelity, true, c.Text, "")
				ok++
				continue
			}
			window := text[max(0, start-speakerBefore):min(len(text), end+speakerAfter)]
			found := false
			for _, sp := range speakers {
				found = found || strings.Contains(window, sp)
			}
			if ms.check(QuoteFidelity, found, c.Text, "the source does not give it to "+strings.Join(speakers, " or ")) {
				ok++
			}
		}
	}
	ms.ratio(QuoteFidelity, ok, total)
}

// speakersOf returns the surnames (lower case) of the names a sentence
// gives outside a quotation in it: whom the article attributes it to.
func speakersOf(sentence, quote string) []string {
	rest := strings.Replace(sentence, quote, " q ", 1)
	var out []string
	for _, c := range grounding.Claims("q " + rest) {
		if c.Kind != grounding.Name {
			continue
		}
		ws := strings.Fields(c.Text)
		out = append(out, strings.ToLower(ws[len(ws)-1]))
	}
	return out
}

// edgePunct is the punctuation an expected quotation may lose at its edges.
const edgePunct = " ,.;:!?\"'"

// expected: the facts and quotations a case expects, and the phrases it forbids.
func (ms *measure) expected(a Article, e Expect) {
	text := grounding.Canonical(a.Headline + "\n" + a.Body)
	found := 0
	for _, f := range e.Facts {
		if ms.check(ExpectedFacts, strings.Contains(text, grounding.Canonical(f)), f, "expected fact missing") {
			found++
		}
	}
	for _, q := range e.Quotes {
		exact := strings.Contains(text, strings.Trim(grounding.Canonical(q), edgePunct))
		if ms.check(ExpectedFacts, exact, q, "expected quotation missing or changed") {
			found++
		}
	}
	ms.ratio(ExpectedFacts, found, len(e.Facts)+len(e.Quotes))
	absent := 0
	for _, f := range e.Forbidden {
		if ms.check(ForbiddenAbsent, !strings.Contains(text, grounding.Canonical(f)), f, "forbidden phrase present") {
			absent++
		}
	}
	ms.ratio(ForbiddenAbsent, absent, len(e.Forbidden))
}

// headline: present, and its figures, dates and quotations supported.
func (ms *measure) headline(a Article, m Material) {
	if strings.TrimSpace(a.Headline) == "" {
		ms.check(HeadlineSupported, false, "", "the article has no headline")
		ms.values[HeadlineSupported] = 0
		return
	}
	r := grounding.Check(a.Headline, m.texts())
	ok := len(r.Unsupported) == 0
	ms.check(HeadlineSupported, ok, a.Headline, "unsupported: "+strings.Join(r.Unsupported, "; "))
	ms.ratio(HeadlineSupported, b2i(ok), 1)
}
