package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
)

// approvedArticle runs an approval-required run to its pause, approves it
// with key eic and returns the run as GET shows it then.
func (e *env) approvedArticle(eic, body string) RunView {
	e.t.Helper()
	v := e.create(e.user, body)
	e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)
	if resp, b := e.decide(eic, v.ID, `{"decision":"approve"}`); resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("approve = %d %s", resp.StatusCode, b)
	}
	return e.get(e.user, v.ID)
}

func (e *env) getArticle(key, id string, hdr ...string) (*http.Response, store.Article) {
	e.t.Helper()
	resp, b := e.do("GET", "/v1/articles/"+id, key, "", hdr...)
	var a store.Article
	if resp.StatusCode == http.StatusOK && !strings.HasPrefix(resp.Header.Get("Content-Type"), ninjsType) {
		mustJSON(e.t, b, &a)
	}
	return resp, a
}

// TestArticles_ApprovalPublishesCorrectionsAndRetraction approves a run and
// follows its article through the API: the approval publishes it (the
// run's view links it), with the approver, the sources and the provenance;
// a correction with a corrected body is version 2 with a dated notice, a
// retraction version 3; every version is kept; only an editor-in-chief may
// change it, a reader may read it.
func TestArticles_ApprovalPublishesCorrectionsAndRetraction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	reader := e.roleKey(identity.RoleReader)

	run := e.approvedArticle(eic, approvalTask)
	if run.Status != store.StatusSucceeded || run.ArticleID == "" {
		t.Fatalf("approved run is %s with article %q", run.Status, run.ArticleID)
	}
	resp, a := e.getArticle(reader, run.ArticleID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET article = %d", resp.StatusCode)
	}
	decisions := e.get(e.admin, run.ID).Approval.Decisions
	if a.Headline == "" || a.Body == "" || a.Slug == "" || a.Desk != "roundrobin" || a.RunID != run.ID || a.Version != 1 ||
		a.Status != store.ArticlePublished || a.PublishedAt.IsZero() || !a.Approval.Required ||
		!strings.HasPrefix(a.Approval.By, "editor-in-chief-") || !strings.HasSuffix(a.Approval.By, " ("+decisions[0].By+")") ||
		len(a.Approval.Decisions) != 1 || a.Byline == "" {
		t.Fatalf("published article %+v", a)
	}
	if p := a.Provenance; p.DigitalSourceType != store.DigitalSourceTypeTrained || len(p.Models) == 0 ||
		len(p.Approvals) != 1 || p.Approvals[0].By != a.Approval.By || p.Approvals[0].Version != 1 {
		t.Fatalf("provenance %+v", p)
	}

	// Only an editor-in-chief corrects.
	if resp, _ := e.do("POST", "/v1/articles/"+a.ID+"/corrections", e.user, `{"note":"x"}`); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a reporter's correction = %d, want 403", resp.StatusCode)
	}
	if resp, b := e.do("POST", "/v1/articles/"+a.ID+"/corrections", eic, `{"note":" "}`); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "note_required") {
		t.Fatalf("a correction without a note = %d %s", resp.StatusCode, b)
	}
	const fixed = "The council approved the bike lane on Main Street on Tuesday by seven votes to two."
	resp, b := e.do("POST", "/v1/articles/"+a.ID+"/corrections", eic, `{"note":"The vote was seven to two, not six to three.","body":"`+fixed+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("correction = %d %s", resp.StatusCode, b)
	}
	var c store.Article
	mustJSON(t, b, &c)
	today := time.Now().UTC().Format(time.DateOnly)
	if c.Version != 2 || !strings.HasPrefix(c.Body, fixed) || !strings.Contains(c.Body, "*Correction, "+today+":* The vote was seven to two") ||
		len(c.Corrections) != 1 || c.Corrections[0].Version != 2 || c.Slug != a.Slug || !c.PublishedAt.Equal(a.PublishedAt) ||
		len(c.Provenance.Approvals) != 2 {
		t.Fatalf("corrected article %+v", c)
	}

	resp, b = e.do("POST", "/v1/articles/"+a.ID+"/retract", eic, `{"note":"The vote was annulled."}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("retract = %d %s", resp.StatusCode, b)
	}
	var r store.Article
	mustJSON(t, b, &r)
	if r.Status != store.ArticleRetracted || r.Version != 3 || r.Retraction == nil || !strings.Contains(r.Body, "*Retracted on "+today+":* The vote was annulled.") ||
		!strings.Contains(r.Body, "*Correction, ") {
		t.Fatalf("retracted article %+v", r)
	}
	if resp, _ := e.do("POST", "/v1/articles/"+a.ID+"/corrections", eic, `{"note":"again"}`); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a correction of a retracted article = %d, want 409", resp.StatusCode)
	}

	resp, b = e.do("GET", "/v1/articles/"+a.ID+"/versions", reader, "")
	var vs struct{ Versions []store.Article }
	mustJSON(t, b, &vs)
	if resp.StatusCode != http.StatusOK || len(vs.Versions) != 3 || vs.Versions[0].Body != a.Body || vs.Versions[1].Version != 2 || vs.Versions[2].Status != store.ArticleRetracted {
		t.Fatalf("versions = %d %+v", resp.StatusCode, vs.Versions)
	}
	if resp, _ := e.getArticle(reader, "art_nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown article = %d", resp.StatusCode)
	}
}

// TestArticles_ListNewestFirstPagedAndFiltered publishes articles on both
// desks and lists them.
func TestArticles_ListNewestFirstPagedAndFiltered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	var ids []string
	for i, desk := range []string{"roundrobin", "selector", "roundrobin"} {
		v := e.approvedArticle(eic, `{"task":"Facts: The ferry number `+string(rune('1'+i))+` resumed service on Monday.","approval":"required","team":"`+desk+`"}`)
		ids = append([]string{v.ArticleID}, ids...)
	}
	list := func(q string) ArticleList {
		resp, b := e.do("GET", "/v1/articles"+q, e.user, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/articles%s = %d %s", q, resp.StatusCode, b)
		}
		var l ArticleList
		mustJSON(t, b, &l)
		return l
	}
	first := list("?limit=2")
	second := list("?limit=2&cursor=" + first.NextCursor)
	var got []string
	for _, a := range append(first.Articles, second.Articles...) {
		got = append(got, a.ID)
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") || second.NextCursor != "" {
		t.Fatalf("pages %v (next %q), want %v", got, second.NextCursor, ids)
	}
	if sel := list("?desk=selector"); len(sel.Articles) != 1 || sel.Articles[0].ID != ids[1] {
		t.Fatalf("desk filter: %+v", sel.Articles)
	}
	if resp, _ := e.do("GET", "/v1/articles?status=draft", e.user, ""); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad status filter = %d, want 400", resp.StatusCode)
	}
}

// TestArticles_PublishModes checks which runs publish without an approval:
// a run that succeeds without approval publishes by default, not with
// --publish approved-only (the default with --require-approval); a capped
// run that waited publishes when approved.
func TestArticles_PublishModes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		cfg     Config
		publish bool
	}{
		{"all by default", Config{KeyRateLimit: -1}, true},
		{"approved-only", Config{KeyRateLimit: -1, Publish: PublishApprovedOnly}, false},
		{"approved-only by default with approval required", Config{KeyRateLimit: -1, RequireApproval: true}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: c.cfg})
			reporter := e.roleKey(identity.RoleReporter)
			v := e.waitFinished(reporter, e.create(reporter, `{"task":"Facts: A library opened on Monday.","approval":"none"}`).ID)
			if v.Status != store.StatusSucceeded || (v.ArticleID != "") != c.publish {
				t.Fatalf("run %s published %q; want published %v", v.Status, v.ArticleID, c.publish)
			}
			if c.publish {
				_, a := e.getArticle(reporter, v.ArticleID)
				// by is the submitting key's name, with its id (responsible).
				stored, err := e.st.GetRun(context.Background(), v.ID)
				if err != nil {
					t.Fatal(err)
				}
				owner := stored.Owner
				if a.Approval.Required || !strings.HasPrefix(a.Approval.By, "reporter-") ||
					!strings.HasSuffix(a.Approval.By, " ("+owner+")") || len(a.Provenance.Approvals) != 1 ||
					a.Provenance.Approvals[0].By != a.Approval.By {
					t.Fatalf("article published without approval by %q (owner %q): %+v", a.Approval.By, owner, a.Provenance.Approvals)
				}
			}
			eic := e.roleKey(identity.RoleEditorInChief)
			capped := e.approvedArticle(eic, `{"task":"Facts: A bridge reopened on Friday.","approval":"required","max_messages":1}`)
			if capped.ArticleID == "" {
				t.Fatal("an approved capped run published no article")
			}
		})
	}
}

// TestArticles_Ninjs checks GET /v1/articles/{id} as IPTC ninjs 2.1, asked
// for by Accept or ?format=ninjs, against the schema's required property
// (uri) and the types of the properties it fills.
func TestArticles_Ninjs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	run := e.approvedArticle(eic, approvalTask)
	for name, req := range map[string][]string{
		"accept": {"/v1/articles/" + run.ArticleID, "Accept", "application/ninjs+json"},
		"format": {"/v1/articles/" + run.ArticleID + "?format=ninjs"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, b := e.do("GET", req[0], e.user, "", req[1:]...)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ninjsType {
				t.Fatalf("= %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			checkNinjs(t, b)
		})
	}
}

// checkNinjs checks a ninjs 2.1 document: uri (required) a URI; the string,
// date-time and array properties of the types the schema gives; headlines
// and bodies objects with a string value; the digitalSourceType URI.
func checkNinjs(t *testing.T, b []byte) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if u, ok := d["uri"].(string); !ok || !strings.HasPrefix(u, "http") {
		t.Fatalf("uri %v: required, a URI", d["uri"])
	}
	for _, k := range []string{"type", "version", "firstcreated", "versioncreated", "pubstatus", "slugline", "by", "ednote"} {
		if _, ok := d[k].(string); !ok {
			t.Errorf("%s = %v, want a string", k, d[k])
		}
	}
	for _, k := range []string{"firstcreated", "versioncreated"} {
		if s, _ := d[k].(string); s != "" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("%s %q is not a date-time", k, s)
			}
		}
	}
	if d["type"] != "text" || d["pubstatus"] != "usable" {
		t.Errorf("type %v pubstatus %v", d["type"], d["pubstatus"])
	}
	for _, k := range []string{"headlines", "bodies"} {
		items, ok := d[k].([]any)
		if !ok || len(items) == 0 {
			t.Fatalf("%s = %v, want a non-empty array", k, d[k])
		}
		for _, it := range items {
			o, ok := it.(map[string]any)
			if v, isStr := o["value"].(string); !ok || !isStr || v == "" {
				t.Errorf("%s item %v: value is required, a string", k, it)
			}
		}
	}
	std, _ := d["standard"].(map[string]any)
	if std["name"] != "ninjs" || !strings.HasPrefix(std["version"].(string), "2.") {
		t.Errorf("standard %v", d["standard"])
	}
	ti, _ := d["trustindicators"].([]any)
	if len(ti) != 1 || ti[0].(map[string]any)["role"] != store.DigitalSourceTypeTrained {
		t.Errorf("trustindicators %v, want the digitalSourceType", d["trustindicators"])
	}
	if ed, _ := d["ednote"].(string); !strings.Contains(ed, "approved by ") {
		t.Errorf("ednote %q lacks the responsibility record", ed)
	}
}

// TestArticles_ACorrectionRerunGoesThroughTheGate sends an article back to
// its desk with a note ("rerun": true): a run that requires approval; the
// article stays at version 1 while it waits; its approval writes version 2
// from the run, with the notice, approved by the editor-in-chief.
func TestArticles_ACorrectionRerunGoesThroughTheGate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	id := e.approvedArticle(eic, approvalTask).ArticleID
	resp, b := e.do("POST", "/v1/articles/"+id+"/corrections", eic, `{"note":"The vote was seven to two.","rerun":true}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("rerun = %d %s", resp.StatusCode, b)
	}
	var run RunView
	mustJSON(t, b, &run)
	w := e.waitStatus(eic, run.ID, store.StatusAwaitingApproval)
	if !strings.Contains(w.Task, "The vote was seven to two.") || w.Approval == nil || !w.Approval.Required {
		t.Fatalf("the rerun %+v", w)
	}
	if _, a := e.getArticle(eic, id); a.Version != 1 {
		t.Fatalf("the article is at version %d while the rerun waits", a.Version)
	}
	if resp, b := e.decide(eic, run.ID, `{"decision":"approve"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("approve = %d %s", resp.StatusCode, b)
	}
	_, a := e.getArticle(eic, id)
	if a.Version != 2 || a.RunID != run.ID || len(a.Corrections) != 1 || a.Corrections[0].Note != "The vote was seven to two." ||
		!strings.Contains(a.Body, "*Correction, ") || len(a.Provenance.Approvals) != 2 || a.Provenance.Approvals[1].By == "" {
		t.Fatalf("after the rerun's approval: %+v", a)
	}
	if got := e.get(eic, run.ID); got.ArticleID != id {
		t.Fatalf("the rerun's article_id %q, want %s", got.ArticleID, id)
	}
}

// TestArticles_SummaryFromTheDesksSummaryWriter checks an investigations
// run's article carries its summary writer's text as its summary, in the
// JSON and in ninjs (descriptions, role summary); a desk without a summary
// writer publishes none.
func TestArticles_SummaryFromTheDesksSummaryWriter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	for _, c := range []struct {
		team    string
		summary bool
	}{{desk.Investigations, true}, {desk.RoundRobin, false}} {
		v := e.waitFinished(e.user, e.create(e.user, `{"task":"Facts: A library opened on Monday.","approval":"none","team":"`+c.team+`"}`).ID)
		if v.ArticleID == "" {
			t.Fatalf("%s run %s published no article", c.team, v.Status)
		}
		_, a := e.getArticle(e.user, v.ArticleID)
		if (a.Summary != "") != c.summary {
			t.Fatalf("%s article summary %q; want one %v", c.team, a.Summary, c.summary)
		}
		if !c.summary {
			continue
		}
		_, b := e.do("GET", "/v1/articles/"+v.ArticleID+"?format=ninjs", e.user, "")
		var n struct {
			Descriptions []struct{ Role, Value string } `json:"descriptions"`
		}
		mustJSON(t, b, &n)
		if len(n.Descriptions) != 1 || n.Descriptions[0].Role != "summary" || n.Descriptions[0].Value != a.Summary {
			t.Fatalf("ninjs descriptions %+v; want the summary %q", n.Descriptions, a.Summary)
		}
	}
}
