package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
)

// TestFeeds_AtomAndJSONFeedReadBackWithCorrectionsAndRetraction publishes
// two articles, corrects one and retracts the other, and reads the feeds
// back with gofeed (the parser read_feed uses) and against the
// specifications: an Atom feed's and entry's required elements (RFC 4287
// 4.1.1, 4.1.2), JSON Feed 1.1's required version, title and items with
// an id and a content_text. A retracted article leaves the current items:
// its entry announces the retraction, without the text.
func TestFeeds_AtomAndJSONFeedReadBackWithCorrectionsAndRetraction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1, Disclosure: "Written by AI, approved by a named editor."}})
	eic := e.roleKey(identity.RoleEditorInChief)
	reader := e.roleKey(identity.RoleReader)
	kept := e.approvedArticle(eic, approvalTask).ArticleID
	gone := e.approvedArticle(eic, `{"task":"Facts: The ferry resumed service on Monday.","approval":"required"}`).ArticleID
	if resp, b := e.do("POST", "/v1/articles/"+kept+"/corrections", eic, `{"note":"The vote was seven to two."}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("correct = %d %s", resp.StatusCode, b)
	}
	_, goneArt := e.getArticle(reader, gone)
	if resp, b := e.do("POST", "/v1/articles/"+gone+"/retract", eic, `{"note":"The ferry did not resume."}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("retract = %d %s", resp.StatusCode, b)
	}

	// Not public: a reader's key is needed.
	if resp, _ := e.do("GET", "/feeds/articles.atom", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the Atom feed without a key = %d, want 401", resp.StatusCode)
	}
	resp, atom := e.do("GET", "/feeds/articles.atom", reader, "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("Atom = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	checkAtom(t, atom)
	resp, jf := e.do("GET", "/feeds/articles.json", reader, "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/feed+json") {
		t.Fatalf("JSON Feed = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	checkJSONFeed(t, jf)

	for name, body := range map[string][]byte{"atom": atom, "json": jf} {
		f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: gofeed: %v", name, err)
		}
		if len(f.Items) != 2 {
			t.Fatalf("%s: %d items, want 2", name, len(f.Items))
		}
		byID := map[string]*gofeed.Item{}
		for _, it := range f.Items {
			byID[it.GUID] = it
		}
		k, g := byID["urn:newsroom:article:"+kept], byID["urn:newsroom:article:"+gone]
		if k == nil || g == nil {
			t.Fatalf("%s: items %v", name, byID)
		}
		text := cmp.Or(k.Content, k.Description)
		if !strings.Contains(text, "Correction, ") || !strings.Contains(text, "Written by AI, approved by a named editor.") || k.UpdatedParsed == nil ||
			k.PublishedParsed == nil || !k.UpdatedParsed.After(*k.PublishedParsed) {
			t.Errorf("%s: the corrected item %+v", name, k)
		}
		gtext := cmp.Or(g.Content, g.Description)
		if !strings.HasPrefix(g.Title, "Retracted: ") || !strings.Contains(gtext, "The ferry did not resume.") || strings.Contains(gtext, goneArt.Body[:20]) {
			t.Errorf("%s: the retracted item %q: %q", name, g.Title, gtext)
		}
	}

	// Public with --public-articles.
	pub := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1, PublicArticles: true}})
	for _, p := range []string{"/feeds/articles.atom", "/feeds/articles.json"} {
		if resp, _ := pub.do("GET", p, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("%s public = %d", p, resp.StatusCode)
		}
	}
}

// checkAtom checks RFC 4287's required elements: atom:feed has exactly one
// id, title and updated, and an author (or every entry has one); each
// atom:entry exactly one id, title and updated, an author, and content or
// an alternate link.
func checkAtom(t *testing.T, b []byte) {
	t.Helper()
	type person struct {
		Name string `xml:"name"`
	}
	type link struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	}
	var f struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      []string `xml:"id"`
		Title   []string `xml:"title"`
		Updated []string `xml:"updated"`
		Author  []person `xml:"author"`
		Links   []link   `xml:"link"`
		Entries []struct {
			ID      []string `xml:"id"`
			Title   []string `xml:"title"`
			Updated []string `xml:"updated"`
			Author  []person `xml:"author"`
			Content []string `xml:"content"`
			Links   []link   `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(b, &f); err != nil {
		t.Fatalf("Atom: %v", err)
	}
	date := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`) // RFC 3339
	if len(f.ID) != 1 || len(f.Title) != 1 || len(f.Updated) != 1 || !date.MatchString(f.Updated[0]) || len(f.Author) == 0 {
		t.Fatalf("atom:feed id %v title %v updated %v author %v", f.ID, f.Title, f.Updated, f.Author)
	}
	if len(f.Entries) == 0 {
		t.Fatal("no entries")
	}
	for _, e := range f.Entries {
		if len(e.ID) != 1 || len(e.Title) != 1 || len(e.Updated) != 1 || !date.MatchString(e.Updated[0]) || len(e.Author) == 0 || e.Author[0].Name == "" ||
			(len(e.Content) == 0 && len(e.Links) == 0) {
			t.Errorf("atom:entry %+v lacks a required element", e)
		}
	}
}

// checkJSONFeed checks JSON Feed 1.1: version is its URL, title a string,
// items an array whose items have a string id and content_text or
// content_html.
func checkJSONFeed(t *testing.T, b []byte) {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f["version"] != "https://jsonfeed.org/version/1.1" {
		t.Errorf("version %v", f["version"])
	}
	if title, ok := f["title"].(string); !ok || title == "" {
		t.Errorf("title %v", f["title"])
	}
	items, ok := f["items"].([]any)
	if !ok || len(items) == 0 {
		t.Fatalf("items %v", f["items"])
	}
	for _, it := range items {
		m := it.(map[string]any)
		_, text := m["content_text"].(string)
		_, html := m["content_html"].(string)
		if id, ok := m["id"].(string); !ok || id == "" || (!text && !html) {
			t.Errorf("item %v lacks id or content", m)
		}
		ext, _ := m["_newsroom"].(map[string]any)
		if ext["digital_source_type"] != store.DigitalSourceTypeTrained {
			t.Errorf("item %v lacks the digitalSourceType", m["id"])
		}
	}
}

// TestArticlePage_PublicHTMLWithNewsArticleJSONLD checks /articles/{slug}:
// reader-only unless --public-articles; the page has the headline, the
// disclosure line and the responsibility record, and schema.org NewsArticle
// JSON-LD with headline, dates, author, editor, isBasedOn and corrections.
func TestArticlePage_PublicHTMLWithNewsArticleJSONLD(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1, PublicArticles: true}})
	eic := e.roleKey(identity.RoleEditorInChief)
	_, a := e.getArticle(e.user, e.approvedArticle(eic, approvalTask).ArticleID)
	if resp, b := e.do("POST", "/v1/articles/"+a.ID+"/corrections", eic, `{"note":"The vote was seven to two."}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("correct = %d %s", resp.StatusCode, b)
	}
	resp, page := e.do("GET", "/articles/"+a.Slug, "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	html := string(page)
	for _, want := range []string{"<h1>" + template.HTMLEscapeString(a.Headline) + "</h1>", DefaultDisclosure, "approved by " + a.Approval.By} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no JSON-LD")
	}
	var ld map[string]any
	if err := json.Unmarshal([]byte(m[1]), &ld); err != nil {
		t.Fatalf("JSON-LD %s: %v", m[1], err)
	}
	if ld["@context"] != "https://schema.org" || ld["@type"] != "NewsArticle" || ld["headline"] != a.Headline || ld["datePublished"] == nil ||
		ld["dateModified"] == nil || ld["digitalSourceType"] != store.DigitalSourceTypeTrained {
		t.Fatalf("JSON-LD %v", ld)
	}
	if au, _ := ld["author"].(map[string]any); au["name"] != a.Byline {
		t.Errorf("author %v", ld["author"])
	}
	if ed, _ := ld["editor"].(map[string]any); ed["name"] != a.Approval.By {
		t.Errorf("editor %v", ld["editor"])
	}
	if _, ok := ld["isBasedOn"].([]any); !ok {
		t.Errorf("isBasedOn %v", ld["isBasedOn"])
	}
	if cs, _ := ld["correction"].([]any); len(cs) != 1 || cs[0].(map[string]any)["text"] != "The vote was seven to two." {
		t.Errorf("correction %v", ld["correction"])
	}
	if resp, _ := e.do("GET", "/articles/no-such-slug", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown slug = %d", resp.StatusCode)
	}
	closed := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	if resp, _ := closed.do("GET", "/articles/"+a.Slug, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the page without --public-articles and a key = %d, want 401", resp.StatusCode)
	}
}
