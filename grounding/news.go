package grounding

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the conventions of news writing that the checker must
// read as the material's own words: AP abbreviations (months, streets,
// titles), number words written as figures, punctuation at the edge of a
// quotation and elisions inside it.

// abbrevRe matches the abbreviations AP style uses for months, streets and
// titles; abbreviations maps each to the word the material may spell out.
var (
	abbrevRe = regexp.MustCompile(`\b(Jan|Feb|Aug|Sept|Sep|Oct|Nov|Dec|St|Ave|Blvd|Rd|Gov|Lt|Sen|Rep|Gen|Sgt|Col|Capt|Cmdr|Dr|Prof|Supt|Det|Atty|Mr|Mrs|Ms)\.|\b(CEO|CFO|COO)\b`)

	abbreviations = map[string]string{
		"Jan": "January", "Feb": "February", "Aug": "August", "Sept": "September", "Sep": "September",
		"Oct": "October", "Nov": "November", "Dec": "December",
		"St": "Street", "Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road",
		"Gov": "Governor", "Lt": "Lieutenant", "Sen": "Senator", "Rep": "Representative", "Gen": "General",
		"Sgt": "Sergeant", "Col": "Colonel", "Capt": "Captain", "Cmdr": "Commander", "Dr": "Doctor",
		"Prof": "Professor", "Supt": "Superintendent", "Det": "Detective", "Atty": "Attorney",
		"Mr": "", "Mrs": "", "Ms": "",
		"CEO": "Chief Executive Officer", "CFO": "Chief Financial Officer", "COO": "Chief Operating Officer",
	}
	// streets may end a sentence ("on Main St. The council..."), so their
	// full stop is kept before a capital or at the end of the text.
	streets = map[string]bool{"St": true, "Ave": true, "Blvd": true, "Rd": true}
)

// expandAbbreviations spells out AP abbreviations, so that "Dec. 8",
// "Main St." and "Gov. Maria Lopez" read as "December 8", "Main Street"
// and "Governor Maria Lopez"; honorifics (Mr., Ms.) are dropped.
func expandAbbreviations(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range abbrevRe.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		var abbr string
		if m[2] >= 0 {
			abbr = s[m[2]:m[3]]
		} else {
			abbr = s[m[4]:m[5]]
		}
		full := abbreviations[abbr]
		b.WriteString(full)
		if streets[abbr] && endsSentence(s[m[1]:]) {
			b.WriteString(".")
		}
		if full == "" && last < len(s) && s[last] == ' ' {
			last++
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// endsSentence reports whether the text after an abbreviation's full stop
// starts a new sentence: nothing, a line break, or spaces and a capital.
func endsSentence(rest string) bool {
	t := strings.TrimLeft(rest, " \t")
	if t == "" || strings.HasPrefix(rest, "\n") || strings.HasPrefix(t, "\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(t)
	return len(t) < len(rest) && unicode.IsUpper(r)
}

var (
	unitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tensWords    = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	numberWordRe = regexp.MustCompile(`\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](one|two|three|four|five|six|seven|eight|nine)\b)?|\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)\b`)
)

// figures writes the number words of lower-cased text as figures ("a
// ten-year plan" as "a 10-year plan", "thirty-seven" as "37"): AP style
// writes figures from 10 up, and a figure in an article may stand for a
// number word in its source.
func figures(s string) string {
	return numberWordRe.ReplaceAllStringFunc(s, func(w string) string {
		m := numberWordRe.FindStringSubmatch(w)
		if m[3] != "" {
			return strconv.Itoa(indexOf(unitWords, m[3]))
		}
		return strconv.Itoa(indexOf(tensWords, m[1])*10 + indexOf(unitWords, m[2]))
	})
}

func indexOf(ws []string, w string) int {
	for i, x := range ws {
		if x == w {
			return i
		}
	}
	return 0
}

// canonical is the form in which quotations and the material are compared:
// lower case, straight quotes, collapsed spaces, abbreviations spelled out
// and number words as figures.
func canonical(s string) string {
	return figures(normalize(expandAbbreviations(s)))
}

// elisionRe matches an elision marked in a quotation: three dots (spaced
// or not), the ellipsis character, either in brackets.
var elisionRe = regexp.MustCompile(`\s*(?:\[\s*(?:\.\s?\.\s?\.|…)\s*\]|\.\s?\.\s?\.|…)\s*`)

// edgePunct is what news writing may change at the edge of a quotation
// (AP's comma for the source's full stop, a dash, a colon).
const edgePunct = " ,.;:!?—–-'\""

// quoteParts returns a quotation's passages in canonical form: the parts
// between its marked elisions, without the punctuation at their edges.
func quoteParts(q string) []string {
	var out []string
	for _, p := range elisionRe.Split(q, -1) {
		if p = strings.Trim(canonical(p), edgePunct); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// hasQuote reports whether each passage of a quotation appears in text,
// in order.
func hasQuote(text, q string) bool {
	s, _ := QuoteAt(text, q)
	return s >= 0
}

// scoreRe is a score or a tally written with a hyphen ("3-1"); the checks
// around it keep phone numbers and ranges of years out.
var scoreRe = regexp.MustCompile(`\b\d{1,3}[-–]\d{1,3}\b`)

// scores returns the scores of text, and text with them blanked.
func scores(text string) ([]Claim, string) {
	var out []Claim
	blank := []byte(text)
	for _, m := range scoreRe.FindAllStringIndex(text, -1) {
		before, after := "", text[m[1]:]
		if m[0] > 0 {
			before = text[m[0]-1 : m[0]]
		}
		if strings.ContainsAny(before, "-–0123456789") || (after != "" && strings.ContainsAny(after[:1], "-–0123456789")) {
			continue
		}
		s := strings.ReplaceAll(text[m[0]:m[1]], "–", "-")
		out = append(out, Claim{Kind: Figure, Text: s, exact: s})
		for i := m[0]; i < m[1]; i++ {
			blank[i] = ' '
		}
	}
	return out, string(blank)
}

// hasToken reports whether text holds tok not glued to other digits.
func hasToken(text, tok string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], tok)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(tok)
		okStart := start == 0 || !unicode.IsDigit(rune(text[start-1]))
		okEnd := end == len(text) || !unicode.IsDigit(rune(text[end]))
		if okStart && okEnd {
			return true
		}
		i = start + 1
	}
}

// hasDate reports whether text holds the month and the day side by side,
// in either order ("december 8", "8 december").
func hasDate(text, month, day string) bool {
	if hasToken(text, month+" "+day) || hasToken(text, day+" "+month) {
		return true
	}
	// An ISO date of the material ("2026-12-08") is the same day.
	m := slices.Index(months, month) + 1
	d, err := strconv.Atoi(day)
	return m > 0 && err == nil && strings.Contains(text, fmt.Sprintf("-%02d-%02d", m, d))
}

var months = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december"}

// Canonical is the form in which the checker compares an article's
// quotations with its material: lower case, straight quotes, collapsed
// spaces, AP abbreviations spelled out and number words as figures. Two
// texts that differ only in those conventions have the same canonical form.
func Canonical(s string) string { return canonical(s) }

// HasQuote reports whether the passages of quotation q (the parts between
// its marked elisions, without the punctuation at their edges) appear in
// text, in order: the checker's test of a quotation.
func HasQuote(text, q string) bool { return hasQuote(canonical(text), q) }

// QuoteAt returns where the first passage of quotation q starts in
// canonical text and where its last ends, or -1, -1.
func QuoteAt(canonicalText, q string) (start, end int) {
	parts := quoteParts(q)
	pos, start := 0, -1
	for _, p := range parts {
		i := strings.Index(canonicalText[pos:], p)
		if i < 0 {
			return -1, -1
		}
		if start < 0 {
			start = pos + i
		}
		pos += i + len(p)
	}
	if start < 0 {
		return -1, -1
	}
	return start, pos
}
