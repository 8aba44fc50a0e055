package emulator

import (
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
)

func TestJudgeReply_ScoresByFixedRules(t *testing.T) {
	sys := model.Message{Role: model.RoleSystem, Content: "You are News_Judge, an editor.\nAnswer with one JSON object."}
	good := model.Message{Role: model.RoleUser, Content: "Task:\nWrite it.\n\nSources:\n[1] The lane costs 4.2 million euros.\n\nArticle:\nLane Approved\n\nThe lane costs 4.2 million euros, Ruiz said.\n"}
	bad := model.Message{Role: model.RoleUser, Content: "Task:\nWrite it.\n\nSources:\n[1] The lane costs 4.2 million euros.\n\nArticle:\nLane Approved\n\nThe shocking lane costs 9.9 million euros.\n"}
	if !isJudge([]model.Message{sys, good}) || isJudge([]model.Message{{Role: model.RoleSystem, Content: "You are News_Editor"}}) {
		t.Fatal("isJudge does not tell the judge from the editor")
	}
	g, b := personaReply([]model.Message{sys, good}), personaReply([]model.Message{sys, bad})
	if !strings.Contains(g, `"faithfulness":{"reason":"Every figure in the article appears in the material.","score":5}`) {
		t.Errorf("good article: %s", g)
	}
	if !strings.Contains(b, `"faithfulness":{"reason":"1 figures in the article do not appear in the material.","score":3}`) || !strings.Contains(b, `"neutrality":{"reason":"The article uses loaded words.","score":3}`) {
		t.Errorf("bad article: %s", b)
	}
	if personaReply([]model.Message{sys, good}) != g {
		t.Error("the judge is not deterministic")
	}
}
