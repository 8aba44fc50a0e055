package eval

import (
	"regexp"
	"strings"
	"unicode"
)

var (
	citationRe = regexp.MustCompile(`\[(\d+)\]`)
	// abbreviations that end in a full stop without ending a sentence.
	noBreak = map[string]bool{"mr": true, "mrs": true, "ms": true, "dr": true, "gov": true, "sen": true, "rep": true,
		"gen": true, "lt": true, "sgt": true, "col": true, "capt": true, "prof": true, "jan": true, "feb": true,
		"aug": true, "sept": true, "sep": true, "oct": true, "nov": true, "dec": true, "no": true, "st": true,
		"ave": true, "blvd": true, "corp": true, "inc": true, "co": true, "jr": true, "vs": true, "u.s": true}
)

// sentences splits text into sentences: at a full stop, question or
// exclamation mark followed by a space and a capital or a quotation mark
// (closing quotes and citations stay with their sentence), and at line
// breaks. AP abbreviations do not end a sentence.
func sentences(text string) []string {
	var out []string
	for para := range strings.SplitSeq(text, "\n") {
		para = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(para), "#>*-• "))
		if para == "" {
			continue
		}
		out = append(out, splitParagraph(para)...)
	}
	return out
}

func splitParagraph(p string) []string {
	var out []string
	start := 0
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '.' && rs[i] != '!' && rs[i] != '?' {
			continue
		}
		if rs[i] == '.' && noBreak[strings.ToLower(lastWord(rs[start:i]))] {
			continue
		}
		j := i + 1
		for j < len(rs) && strings.ContainsRune(`"”’')`, rs[j]) {
			j++
		}
		for {
			k := j
			for k < len(rs) && rs[k] == ' ' {
				k++
			}
			if m := citationRe.FindStringIndex(string(rs[k:])); m != nil && m[0] == 0 {
				j = k + len([]rune(string(rs[k:])[:m[1]]))
				continue
			}
			break
		}
		k := j
		for k < len(rs) && unicode.IsSpace(rs[k]) {
			k++
		}
		if k == j || k >= len(rs) || !(unicode.IsUpper(rs[k]) || strings.ContainsRune(`"“‘`, rs[k])) {
			continue
		}
		out = append(out, strings.TrimSpace(string(rs[start:j])))
		start, i = k, k-1
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

func lastWord(rs []rune) string {
	i := len(rs)
	for i > 0 && (unicode.IsLetter(rs[i-1]) || rs[i-1] == '.') {
		i--
	}
	return string(rs[i:])
}

// words returns the words of text: runs with a letter or a digit.
func words(text string) []string {
	var out []string
	for _, w := range strings.Fields(citationRe.ReplaceAllString(text, " ")) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			out = append(out, w)
		}
	}
	return out
}

// syllables estimates the syllables of an English word: groups of vowels,
// less a silent final e, at least one.
func syllables(w string) int {
	w = strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }))
	if w == "" {
		return 1
	}
	n, prev := 0, false
	for _, r := range w {
		v := strings.ContainsRune("aeiouy", r)
		if v && !prev {
			n++
		}
		prev = v
	}
	if strings.HasSuffix(w, "e") && !strings.HasSuffix(w, "le") && n > 1 {
		n--
	}
	return max(n, 1)
}

// readability returns the Flesch reading ease and the Flesch–Kincaid
// grade level of text; ok is false for a text without words.
func readability(text string) (ease, grade float64, ok bool) {
	ss := sentences(text)
	var nw, nsyl int
	for _, s := range ss {
		for _, w := range words(s) {
			nw++
			nsyl += syllables(w)
		}
	}
	if nw == 0 || len(ss) == 0 {
		return 0, 0, false
	}
	wps, spw := float64(nw)/float64(len(ss)), float64(nsyl)/float64(nw)
	return 206.835 - 1.015*wps - 84.6*spw, 0.39*wps + 11.8*spw - 15.59, true
}

// SplitHeadline returns an article's headline and body. The body loses
// its first line when that line reads as a title (a "#" heading, or a
// line without a final full stop followed by a blank line): the writer's
// own headline. The headline is the desk's first generated headline when
// it wrote some, else that title line.
func SplitHeadline(body string, headlines []string) (headline, rest string) {
	body = strings.TrimSpace(body)
	first, after, hasMore := strings.Cut(body, "\n")
	line := strings.Trim(strings.TrimSpace(strings.TrimLeft(first, "# ")), "*")
	titled := hasMore && line != "" && (strings.HasPrefix(first, "#") ||
		(!strings.HasSuffix(line, ".") && len(words(line)) <= 30 && strings.HasPrefix(after, "\n")))
	if titled {
		headline, body = line, strings.TrimSpace(after)
	}
	if len(headlines) > 0 && strings.TrimSpace(headlines[0]) != "" {
		headline = strings.TrimSpace(headlines[0])
	}
	return headline, body
}
