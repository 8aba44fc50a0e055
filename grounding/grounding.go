// Package grounding checks, without a model call, that an article claims
// nothing its material does not contain: the figures, dates, quoted passages
// and proper names of the article are looked up in the task and the source
// documents, and those found in neither are listed.
//
// The check is deliberately mechanical. It cannot tell whether a sentence
// is true, only whether its checkable particles (a number, a name, a quote)
// come from somewhere; that is the part of a fabrication a reader cannot
// detect and an editor most often misses.
package grounding

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Report is the outcome of a check.
type Report struct {
	// Checked is the number of distinct claims checked.
	Checked int
	// Unsupported lists the claims found nowhere in the material, in the
	// order they appear in the article.
	Unsupported []string
}

// Check lists the claims of article that do not appear in material (the
// task and the documents; a document that is a JSON value is read as the
// text of its strings).
func Check(article string, material []string) Report {
	idx := newIndex(material)
	var r Report
	seen := map[string]bool{}
	for _, c := range Claims(article) {
		if seen[c.Text] {
			continue
		}
		seen[c.Text] = true
		r.Checked++
		if !idx.supports(c) {
			r.Unsupported = append(r.Unsupported, c.Text)
		}
	}
	// An instruction to a model is never supported, whatever repeats it.
	for _, c := range imperatives(citationRe.ReplaceAllString(article, "")) {
		if seen[c.Text] {
			continue
		}
		seen[c.Text] = true
		r.Checked++
		r.Unsupported = append(r.Unsupported, c.Text)
	}
	return r
}

// Kind is the kind of a claim.
type Kind string

// Kinds of claims.
const (
	Figure Kind = "figure" // a number with two or more digits, a decimal, an amount with a unit, a percentage
	Date   Kind = "date"   // an ISO date or a day and a month
	Quote  Kind = "quote"  // a quoted passage of three words or more
	Name   Kind = "name"   // capitalised words that do not start a sentence
)

// Claim is a checkable particle of an article.
type Claim struct {
	Kind Kind
	// Text is the claim as the article writes it.
	Text string
	// numbers are the claim's numbers, normalised (figures and dates);
	// words its words (names, units).
	numbers []string
	words   []string
	// exact is a token the material must hold as written (a score).
	exact string
}

var (
	citationRe = regexp.MustCompile(`\[\d+\]`)
	quoteRe    = regexp.MustCompile(`"([^"\n]+)"|“([^”\n]+)”`)
	isoDateRe  = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
	// numberRe is a number with optional thousands separators and decimals,
	// an optional currency sign before it, and an optional unit or percent after it.
	numberRe   = regexp.MustCompile(`([$€£¥])?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s?%|\s(?i:percent|per cent|million|billion|thousand|trillion|dollars?|euros?|pounds?|yen|km|kilometres?|kilometers?|miles?|metres?|meters?|kg|kilograms?|tonnes?|tons?|hours?|minutes?|years?|days?|weeks?|months?|people|residents|jobs|homes|seats|votes)\b)?`)
	monthDayRe = regexp.MustCompile(`\b(?:(January|February|March|April|May|June|July|August|September|October|November|December)\s+(\d{1,2})|(\d{1,2})\s+(January|February|March|April|May|June|July|August|September|October|November|December))\b`)
)

// Claims returns the checkable claims of an article, in order.
func Claims(article string) []Claim {
	text := citationRe.ReplaceAllString(article, "")
	var out []Claim

	for _, m := range quoteRe.FindAllStringSubmatch(text, -1) {
		q := m[1] + m[2]
		if len(strings.Fields(q)) >= 3 {
			out = append(out, Claim{Kind: Quote, Text: strings.TrimSpace(q)})
		}
	}
	for _, d := range isoDateRe.FindAllString(text, -1) {
		out = append(out, Claim{Kind: Date, Text: d, numbers: []string{d}})
	}
	// Dates, figures and names are read with AP abbreviations spelled
	// out ("Dec. 8" is a date, "Gov." no name of its own).
	noISO := isoDateRe.ReplaceAllString(expandAbbreviations(text), " ")
	for _, m := range monthDayRe.FindAllStringSubmatch(noISO, -1) {
		month, day := m[1]+m[4], m[2]+m[3]
		out = append(out, Claim{Kind: Date, Text: m[0], numbers: []string{strings.TrimLeft(day, "0")}, words: []string{strings.ToLower(month)}})
	}
	// A date is one claim, not a figure and a name besides.
	noISO = monthDayRe.ReplaceAllStringFunc(noISO, func(d string) string { return strings.Repeat(" ", len(d)) })
	sc, noISO := scores(noISO)
	out = append(out, sc...)
	for _, m := range numberRe.FindAllStringSubmatchIndex(noISO, -1) {
		whole := noISO[m[0]:m[1]]
		intPart := strings.ReplaceAll(noISO[m[4]:m[5]], ",", "")
		dec := ""
		if m[6] >= 0 {
			dec = noISO[m[6]:m[7]]
		}
		unit := ""
		if m[8] >= 0 {
			unit = strings.TrimSpace(noISO[m[8]:m[9]])
		}
		currency := m[2] >= 0
		// A lone digit is not a claim ("7 to 2", "one of 3 options"),
		// unless it is a decimal, a percentage or an amount.
		if len(intPart) < 2 && dec == "" && unit == "" && !currency {
			continue
		}
		// A number glued to letters is part of a name or a code ("A1", "COVID-19").
		if m[0] > 0 {
			if r, _ := utf8.DecodeLastRuneInString(noISO[:m[0]]); unicode.IsLetter(r) || r == '-' {
				continue
			}
		}
		c := Claim{Kind: Figure, Text: strings.TrimSpace(whole), numbers: []string{strings.TrimLeft(intPart, "0") + dec}}
		if c.numbers[0] == "" || strings.HasPrefix(c.numbers[0], ".") {
			c.numbers[0] = "0" + c.numbers[0]
		}
		if unit != "" && unit != "%" {
			c.words = []string{unitStem(unit)}
		}
		out = append(out, c)
	}
	out = append(out, names(withoutTitle(noISO))...)
	return out
}

// unitStem reduces a unit to the form looked up in the material.
func unitStem(u string) string {
	u = strings.ToLower(u)
	if u == "per cent" {
		return "percent"
	}
	return strings.TrimSuffix(u, "s")
}

// withoutTitle blanks a title line (the first line, when it is in title
// case and ends without a full stop): capitals there mark a headline, not
// names. Its figures and dates are still checked.
func withoutTitle(text string) string {
	first, rest, _ := strings.Cut(text, "\n")
	line := strings.TrimSpace(strings.TrimLeft(first, "# "))
	if line == "" || strings.HasSuffix(line, ".") {
		return text
	}
	words := strings.Fields(line)
	caps := 0
	for _, w := range words {
		if unicode.IsUpper(firstRune(strings.TrimLeft(w, `"'“‘(`))) {
			caps++
		}
	}
	if caps*2 < len(words) {
		return text
	}
	return "\n" + rest
}

// names returns the runs of capitalised words that do not start a
// sentence, a line or a clause after a colon.
func names(text string) []Claim {
	var out []Claim
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimLeft(strings.TrimSpace(line), "#>*-• \t")
		words := strings.Fields(line)
		start := true
		var run []string
		flush := func() {
			if len(run) > 0 {
				out = append(out, Claim{Kind: Name, Text: strings.Join(run, " "), words: lowerAll(run)})
				run = nil
			}
		}
		for _, raw := range words {
			w := strings.Trim(raw, `"'“”‘’()[],;:.!?*_`)
			w = strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")
			capital := w != "" && unicode.IsUpper(firstRune(w)) && w != "I"
			if capital && !start {
				run = append(run, w)
			} else {
				flush()
			}
			start = false
			if strings.HasSuffix(raw, ".") || strings.HasSuffix(raw, "!") || strings.HasSuffix(raw, "?") ||
				strings.HasSuffix(raw, ":") || strings.HasSuffix(raw, `."`) || strings.HasSuffix(raw, `.”`) {
				// The next word starts a sentence; a name run ends here too.
				flush()
				start = true
			}
		}
		flush()
	}
	return out
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func lowerAll(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = strings.ToLower(w)
	}
	return out
}

// index is the material, prepared for look-ups.
type index struct {
	text    string          // canonical: lower-cased, quotes straightened, spaces collapsed, abbreviations spelled out, number words as figures
	words   map[string]bool // lower-cased words
	numbers map[string]bool // normalised numbers
}

func newIndex(material []string) *index {
	var b strings.Builder
	for _, m := range material {
		b.WriteString(plain(m))
		b.WriteString("\n")
	}
	words := normalize(expandAbbreviations(b.String()))
	text := figures(words)
	idx := &index{text: text, words: map[string]bool{}, numbers: map[string]bool{}}
	for _, w := range strings.FieldsFunc(words, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' }) {
		idx.words[strings.Trim(w, "-")] = true
		for _, part := range strings.Split(w, "-") {
			idx.words[part] = true
		}
	}
	for _, d := range isoDateRe.FindAllString(text, -1) {
		idx.numbers[d] = true
	}
	for _, m := range regexp.MustCompile(`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`).FindAllString(text, -1) {
		n := strings.TrimLeft(strings.ReplaceAll(m, ",", ""), "0")
		if n == "" || strings.HasPrefix(n, ".") {
			n = "0" + n
		}
		idx.numbers[n] = true
	}
	return idx
}

// plain returns a document's text: the strings of a JSON value, or the
// document as it is.
func plain(doc string) string {
	d := strings.TrimSpace(doc)
	if (strings.HasPrefix(d, "{") || strings.HasPrefix(d, "[")) && json.Valid([]byte(d)) {
		var v any
		if json.Unmarshal([]byte(d), &v) == nil {
			var b strings.Builder
			collectStrings(v, &b)
			return b.String()
		}
	}
	return doc
}

func collectStrings(v any, b *strings.Builder) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
		b.WriteString("\n")
	case []any:
		for _, e := range x {
			collectStrings(e, b)
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(e, b)
		}
	}
}

var quoteFolder = strings.NewReplacer("“", `"`, "”", `"`, "‘", "'", "’", "'")

func normalize(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(quoteFolder.Replace(s))), " ")
}

func (idx *index) supports(c Claim) bool {
	switch {
	case c.Kind == Quote:
		return hasQuote(idx.text, c.Text)
	case c.exact != "":
		return hasToken(idx.text, c.exact)
	case c.Kind == Date && len(c.words) == 1 && len(c.numbers) == 1:
		return hasDate(idx.text, c.words[0], c.numbers[0])
	}
	for _, n := range c.numbers {
		if !idx.numbers[n] {
			return false
		}
	}
	for _, w := range c.words {
		if c.Kind == Name {
			if !idx.words[w] && !idx.words[w+"s"] && !idx.words[strings.TrimSuffix(w, "s")] {
				return false
			}
		} else if !strings.Contains(idx.text, w) {
			return false
		}
	}
	return true
}
