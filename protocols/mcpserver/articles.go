package mcpserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ListArticlesInput is list_articles' arguments.
type ListArticlesInput struct {
	Desk   string `json:"desk,omitempty" jsonschema:"only this desk's articles"`
	Status string `json:"status,omitempty" jsonschema:"published or retracted"`
	Limit  int    `json:"limit,omitempty" jsonschema:"at most this many, newest first"`
}

// ArticlesOutput is list_articles' answer: the API's article list.
type ArticlesOutput struct {
	Articles []map[string]any `json:"articles"`
}

// GetArticleInput is get_article's arguments.
type GetArticleInput struct {
	ID string `json:"id" jsonschema:"the article's id"`
}

// ArticleOutput is one published article as the API shows it.
type ArticleOutput struct {
	Article map[string]any `json:"article"`
}

func (t *tools) registerArticles(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{
		Name:        "list_articles",
		Title:       "List published articles",
		Description: "Published (and retracted) articles, newest first, with their headline, desk and status.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, t.listArticles)
	mcp.AddTool(s, &mcp.Tool{
		Name:        "get_article",
		Title:       "Get an article",
		Description: "One article: headline, body, sources, grounding, approval, corrections and provenance.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, t.getArticle)
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		Name: "article", Title: "A published article", MIMEType: "application/json",
		URITemplate: "newsroom://articles/{id}",
		Description: "A published article as JSON, with its provenance.",
	}, t.readArticle)
}

func (t *tools) listArticles(ctx context.Context, req *mcp.CallToolRequest, in ListArticlesInput) (*mcp.CallToolResult, ArticlesOutput, error) {
	q := url.Values{}
	if in.Desk != "" {
		q.Set("desk", in.Desk)
	}
	if in.Status != "" {
		q.Set("status", in.Status)
	}
	if in.Limit > 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	path := "/v1/articles"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out ArticlesOutput
	if err := t.api(req.Extra).Call(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, ArticlesOutput{}, toolError(err)
	}
	if out.Articles == nil {
		out.Articles = []map[string]any{}
	}
	lines := make([]string, 0, len(out.Articles))
	for _, a := range out.Articles {
		h, _ := a["headline"].(string)
		id, _ := a["id"].(string)
		lines = append(lines, id+": "+h)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Join(lines, "\n")}}}, out, nil
}

func (t *tools) getArticle(ctx context.Context, req *mcp.CallToolRequest, in GetArticleInput) (*mcp.CallToolResult, ArticleOutput, error) {
	a, err := t.article(ctx, req.Extra, in.ID)
	if err != nil {
		return nil, ArticleOutput{}, err
	}
	body, _ := a["body"].(string)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: body}}}, ArticleOutput{Article: a}, nil
}

func (t *tools) article(ctx context.Context, extra *mcp.RequestExtra, id string) (map[string]any, error) {
	if strings.TrimSpace(id) == "" {
		return nil, toolError(errEmptyID)
	}
	var a map[string]any
	if err := t.api(extra).Call(ctx, http.MethodGet, "/v1/articles/"+url.PathEscape(id), nil, &a); err != nil {
		return nil, toolError(err)
	}
	return a, nil
}

func (t *tools) readArticle(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	id, ok := strings.CutPrefix(req.Params.URI, "newsroom://articles/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	a, err := t.article(ctx, req.Extra, id)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}}, nil
}
