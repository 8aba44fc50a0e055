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
	`\b(pretend|imagine) (that )?(you are|you're|to be)\b`,
	`\b(act|behave|respond) as (if you were |though you were )?(a|an|the|my)\b.{0,40}\b(assistant|ai|model|bot|agent|persona|character|unfiltered|jailbroken)\b`,
	`\bfrom now on,? (you|always|respond|answer|write)\b`,
	`\b(role-?play|jailbreak|dan mode|developer mode)\b`,
	`^\s*(\[|<|#+\s*)?(system|assistant|developer|instruction|instructions)\s*(\]|>|:)`,
	`</?(tool_call|function_call|tool_use|system)>`,
	`"(name|tool|function)"\s*:\s*"(fetch_url|read_feed|[a-z]+_(publish|send|post|delete|write))"`,
	`^\s*(please\s+)?(fetch|send|visit|open|post|call|email|forward|reveal|include|append|print|output|repeat|insert|add|tell|leak|upload|submit|fill|replace|substitute|paste|copy|put)\b.{0,200}(https?://|\{\w+\}|\b(ai|assistant|model|instructions?|brief|editor|system|prompt|tool|agent|llm|you were given|link)\b)`,
	`\b(reveal|disclose|leak|send|include)\b.{0,40}\b(system prompt|your (brief|instructions|prompt)|embargoed|confidential)\b`,
	`\bignorez\s+(toutes\s+)?(les\s+)?(instructions|consignes)\b`,
	`\bignoriere\s+(alle\s+)?(vorherigen\s+|bisherigen\s+)?(anweisungen|instruktionen)\b`,
	`\bignora\s+(todas\s+)?(las\s+)?(instrucciones|indicaciones)\b`,
	`\bignore\s+todas\s+as\s+instruções\b`,
	`忽略.{0,12}(指令|指示|说明)`,
	`игнорируй.{0,20}инструкци`,
	`\bignora\s+(tutte\s+)?(le\s+)?(istruzioni)\b`,
	`\boubliez\s+(toutes\s+)?(vos|les)\s+instructions\b`,
	`\bvergiss\s+(alle\s+)?(deine\s+)?anweisungen\b`,
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

// IsImperative reports whether text carries an instruction addressed to a
// model anywhere, quoted or not: a writer keeps such sentences of a source
// out of an article (the check of an article itself, Check, lets a quoted
// one through as reported).
func IsImperative(text string) bool { return imperativeRe.MatchString(text) }
