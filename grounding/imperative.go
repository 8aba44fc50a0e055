package grounding

import (
	"regexp"
	"strings"
)

// Imperative is an article sentence that repeats an instruction addressed
// to a model ("ignore previous instructions", "as an AI") instead of
// reporting it: a sign that an injected instruction reached the article.
const Imperative Kind = "imperative"

// ImperativePrefix opens the text of an Imperative claim in a report.
const ImperativePrefix = "repeats an instruction addressed to the model rather than reporting it: "

// imperativeRe matches instructions addressed to a model, in English and in
// a few other languages a page may use to slip past an English filter.
var imperativeRe = regexp.MustCompile(`(?i)` + strings.Join([]string{
	`\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|the\s+|your\s+|of\s+)*(previous|prior|above|earlier|preceding|former|system|original|editor'?s?)?\s*(instructions?|directions?|prompts?|rules|guidelines|editor)\b`,
	`\bas an ai\b`,
	`\bas a (large )?language model\b`,
	`\byou are now (a|an|in|the|my|no longer)\b`,
	`\b(system|developer) (prompt|message|mode)\b`,
	`\bnew instructions\s*:`,
	`\b(do not|don't|never) (tell|inform|alert|show) (the|your) (editor|user|reader)s?\b`,
	`\b(assistant|ai agents?|language models?|llms?|chatbots?)\s*[,:]\s*(please\s+)?(ignore|fetch|send|call|reveal|include|append|visit|open|write|print|say)\b`,
	`\b(fetch_url|read_feed)\s*\(`,
	`\bignorez\s+(toutes\s+)?(les\s+)?(instructions|consignes)\b`,
	`\bignoriere\s+(alle\s+)?(vorherigen\s+|bisherigen\s+)?(anweisungen|instruktionen)\b`,
	`\bignora\s+(todas\s+)?(las\s+)?(instrucciones|indicaciones)\b`,
	`\bignore\s+todas\s+as\s+instruções\b`,
	`忽略.{0,12}(指令|指示|说明)`,
}, "|"))

var quotedRe = regexp.MustCompile(`"[^"\n]*"|“[^”\n]*”|«[^»\n]*»|„[^“\n]*“`)

// imperatives returns the sentences of text that repeat an instruction to a
// model outside quotation marks (a reporter quoting a page's instruction
// reports it; one writing it as a sentence of the article repeats it).
func imperatives(text string) []Claim {
	var out []Claim
	for _, s := range splitSentences(text) {
		outside := quotedRe.ReplaceAllStringFunc(s, func(q string) string { return strings.Repeat(" ", len(q)) })
		if imperativeRe.MatchString(outside) {
			out = append(out, Claim{Kind: Imperative, Text: ImperativePrefix + strings.TrimSpace(s)})
		}
	}
	return out
}

var sentenceEndRe = regexp.MustCompile(`[.!?。]+(\s+|$)|\n+`)

func splitSentences(text string) []string {
	var out []string
	last := 0
	for _, m := range sentenceEndRe.FindAllStringIndex(text, -1) {
		if s := strings.TrimSpace(text[last:m[1]]); s != "" {
			out = append(out, s)
		}
		last = m[1]
	}
	if s := strings.TrimSpace(text[last:]); s != "" {
		out = append(out, s)
	}
	return out
}

// IsImperative reports whether sentence, outside its quotation marks,
// carries an instruction addressed to a model.
func IsImperative(sentence string) bool { return len(imperatives(sentence)) > 0 }
