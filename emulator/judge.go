package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// Judge is the persona that scores articles for newsroom eval --judge
// (its prompt starts "You are News_Judge").
const Judge = "News_Judge"

// isJudge reports whether the conversation addresses the judge.
func isJudge(msgs []model.Message) bool {
	for _, m := range msgs {
		if m.Role == model.RoleSystem || m.Role == "developer" {
			return strings.HasPrefix(strings.TrimSpace(m.Content), "You are "+Judge)
		}
	}
	return false
}

var (
	judgeNumberRe = regexp.MustCompile(`\d[\d,.]*\d|\d`)
	loadedWords   = []string{"shocking", "outrageous", "disaster", "slammed", "heroic", "so-called", "allegedly", "finally"}
)

// judgeReply scores the article of the judge's message by fixed rules, as
// the JSON object its prompt asks for: faithfulness by whether the
// article's numbers all appear in the task and sources, neutrality by
// loaded words, clarity by sentence length, news value by a lead that
// carries a number or a name. A pure function of the messages.
func judgeReply(msgs []model.Message) string {
	text := ""
	for _, m := range msgs {
		if m.Role == model.RoleUser {
			text = m.Content
		}
	}
	material, article, _ := strings.Cut(text, "\nArticle:\n")
	missing := 0
	for _, n := range judgeNumberRe.FindAllString(article, -1) {
		if !strings.Contains(material, strings.TrimRight(n, ".,")) {
			missing++
		}
	}
	score := map[string]any{}
	put := func(k string, s int, why string) { score[k] = map[string]any{"score": s, "reason": why} }
	if missing == 0 {
		put("faithfulness", 5, "Every figure in the article appears in the material.")
	} else {
		put("faithfulness", max(1, 4-missing), fmt.Sprintf("%d figures in the article do not appear in the material.", missing))
	}
	loaded := 0
	for _, w := range loadedWords {
		loaded += strings.Count(strings.ToLower(article), w)
	}
	if loaded == 0 {
		put("neutrality", 5, "The article reports without loaded words.")
	} else {
		put("neutrality", max(1, 4-loaded), "The article uses loaded words.")
	}
	words, sents := len(strings.Fields(article)), max(1, len(sentences(article)))
	switch avg := words / sents; {
	case avg <= 20:
		put("clarity", 5, "Sentences are short and plain.")
	case avg <= 28:
		put("clarity", 4, "Some sentences are long.")
	default:
		put("clarity", 3, "Sentences are long and hard to follow.")
	}
	body := strings.TrimSpace(article)
	if _, rest, ok := strings.Cut(body, "\n\n"); ok {
		body = rest
	}
	lead := ""
	if ss := sentences(body); len(ss) > 0 {
		lead = ss[0]
	}
	if judgeNumberRe.MatchString(lead) || regexp.MustCompile(`\s[A-Z][a-z]+`).MatchString(lead) {
		put("news_value", 4, "The lead carries the news.")
	} else {
		put("news_value", 3, "The lead is vague.")
	}
	b, _ := json.Marshal(score)
	return string(b)
}
