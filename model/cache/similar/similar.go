// Package similar is the similarity cache: a model.Client middleware that
// answers a request from an earlier answer to a request that means the same,
// not only to the identical one (package cache does that).
//
// Two requests match only when everything but the wording is identical:
//
//   - the bucket: namespace (endpoint and deployment), model, agent, the
//     system prompt, the roles and names of the messages and every
//     generation parameter;
//   - the fact fingerprint of the conversation: its numbers, dates, quoted
//     strings and capitalised names, as a set;
//   - and the cosine similarity of the conversation's embeddings is at
//     least the threshold (e.g. 0.97).
//
// So a paraphrased task can hit, and a task with one changed figure or name
// never does, however similar its wording: that is a refusal by
// fingerprint, counted apart from plain misses.
//
// Vectors are kept in an Index beside the exact cache's store (memory,
// SQLite, Redis; PostgreSQL for instances sharing a server), one small
// bucket per agent and prompt, and searched in process. Answers live in the exact cache's Store under their exact key.
//
// The embeddings deployment is an aid, never a dependency: when it fails the
// cache steps aside for the rest of the process (it says so once through
// Config.OnStepAside) and every call goes on as if it were not there.
package similar

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
)

// Defaults for zero Config fields.
const (
	DefaultDimensions = 256
	DefaultMaxBucket  = 512
)

// Lookup results, for Config.OnLookup and metrics.
const (
	ResultHit     = "hit"
	ResultMiss    = "miss"
	ResultRefused = "refused_fingerprint"
)

// Embedder turns texts into vectors; provider.Client implements it.
type Embedder interface {
	Embed(ctx context.Context, inputs []string, dimensions int) ([][]float32, model.Usage, error)
}

// Vector is one stored request: where its answer is and what it meant.
type Vector struct {
	// Key is the answer's key in the Store (package cache's exact key).
	Key string `json:"key"`
	// Fingerprint is the hash of the request's facts.
	Fingerprint string `json:"fp"`
	// Embedding is the request's embedding, of length 1.
	Embedding []float32 `json:"v"`
}

// Index keeps vectors by bucket. Implementations must be safe for
// concurrent use; a missing bucket is (nil, nil).
type Index interface {
	Add(ctx context.Context, bucket string, v Vector, ttl time.Duration) error
	Candidates(ctx context.Context, bucket string) ([]Vector, error)
}

// Config configures the middleware. Store, Index, Embedder and Threshold are
// required; without them Wrap returns next unchanged.
type Config struct {
	// Store holds the answers: the exact cache's store.
	Store cache.Store
	// Index holds the vectors.
	Index Index
	// Embedder embeds requests (the embeddings deployment).
	Embedder Embedder
	// Threshold is the least cosine similarity of a hit, in (0, 1].
	Threshold float64
	// Dimensions of the embeddings; 0 means DefaultDimensions.
	Dimensions int
	// Namespace separates endpoints and deployments, like the exact cache's.
	Namespace string
	// TTL of vectors and answers; 0 means cache.DefaultTTL.
	TTL time.Duration
	// MaxBucket bounds the vectors compared per lookup (the newest are
	// kept); 0 means DefaultMaxBucket.
	MaxBucket int
	// OnLookup is told each lookup's result (ResultHit, ResultMiss,
	// ResultRefused) and the embedding usage it cost. It must not block.
	OnLookup func(result string, embedding model.Usage)
	// OnStepAside is told, once, why the cache stepped aside.
	OnStepAside func(err error)
	// OnError is told about store and index failures (which degrade to a
	// miss or to not storing).
	OnError func(op string, err error)
	// PriceEmbedding prices one embedding's usage (its PromptTokens) in
	// USD; nil means embeddings cost nothing. Every call's Usage carries
	// its embedding (EmbeddingTokens, EmbeddingUSD, and the price in
	// CostUSD), hit or miss, so a run's cost counts it.
	PriceEmbedding func(model.Usage) float64
	// OnEmbeddingCost is told each embedding's cost (EmbeddingTokens,
	// EmbeddingUSD) with the call's context, to charge the budgets the
	// middleware sits above (a run's tracker, the daily budget); nil
	// means none.
	OnEmbeddingCost func(ctx context.Context, u model.Usage)
}

// Client is the similarity cache middleware.
type Client struct {
	next    model.Client
	cfg     Config
	aside   atomic.Bool
	warn    sync.Once
	hits    atomic.Int64
	refused atomic.Int64
}

var _ model.Client = (*Client)(nil)

// New returns the middleware.
func New(cfg Config) model.Middleware {
	return func(next model.Client) model.Client { return Wrap(next, cfg) }
}

// Wrap returns next wrapped by the similarity cache, or next when cfg lacks
// what it needs.
func Wrap(next model.Client, cfg Config) model.Client {
	if cfg.Store == nil || cfg.Index == nil || cfg.Embedder == nil || cfg.Threshold <= 0 || cfg.Threshold > 1 {
		return next
	}
	if cfg.Dimensions <= 0 {
		cfg.Dimensions = DefaultDimensions
	}
	if cfg.TTL <= 0 {
		cfg.TTL = cache.DefaultTTL
	}
	if cfg.MaxBucket <= 0 {
		cfg.MaxBucket = DefaultMaxBucket
	}
	return &Client{next: next, cfg: cfg}
}

// Complete answers from a similar earlier request when one matches, else
// calls next and remembers the answer.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	if c.aside.Load() {
		return c.next.Complete(ctx, req)
	}
	bucket, fp, text := Bucket(c.cfg.Namespace, req), Fingerprint(req), conversation(req)
	vecs, usage, err := c.cfg.Embedder.Embed(ctx, []string{text}, c.cfg.Dimensions)
	if err != nil || len(vecs) != 1 || len(vecs[0]) == 0 {
		if ctx.Err() == nil {
			c.stepAside(err)
		}
		return c.next.Complete(ctx, req)
	}
	embedding := c.embeddingCost(ctx, usage)
	vec := normalize(vecs[0])
	cands, err := c.cfg.Index.Candidates(ctx, bucket)
	if err != nil {
		c.report("index get", err)
	}
	result := ResultMiss
	best, bestSim := -1, 0.0
	for i, v := range cands {
		s := cosine(vec, v.Embedding)
		if s < c.cfg.Threshold {
			continue
		}
		if v.Fingerprint != fp {
			result = ResultRefused // as similar, but other facts: never used
			continue
		}
		if s > bestSim {
			best, bestSim = i, s
		}
	}
	if best >= 0 {
		e, ok, err := c.cfg.Store.Get(ctx, cands[best].Key)
		if err != nil {
			c.report("get", err)
		}
		if ok {
			c.hits.Add(1)
			c.lookup(ResultHit, usage)
			r := hit(req, e, bestSim)
			r.Usage = r.Usage.Add(embedding)
			return r, nil
		}
	}
	if result == ResultRefused {
		c.refused.Add(1)
	}
	c.lookup(result, usage)
	resp, err := c.next.Complete(ctx, req)
	if resp == nil {
		// The embedding was paid (and charged to the budgets) although the
		// call failed: the error carries it, so the run counts it.
		return nil, model.WithSpent(err, embedding, req)
	}
	chat := resp.Usage // what a later hit saves: the answer, not this embedding
	resp.Usage = resp.Usage.Add(embedding)
	if err != nil {
		// Callers drop the response of a failed call: the embedding rides
		// on the error too (what the call itself spent is the business of
		// the layer that spent it).
		return resp, model.WithSpent(err, embedding, req)
	}
	if resp.Cached || (resp.FinishReason != "stop" && resp.FinishReason != "length") {
		return resp, nil
	}
	key := cache.Key(c.cfg.Namespace, req)
	sctx := context.WithoutCancel(ctx)
	e := cache.Entry{Content: resp.Content, Model: resp.Model, FinishReason: resp.FinishReason, Usage: chat, CreatedAt: time.Now().UTC()}
	if err := c.cfg.Store.Set(sctx, key, e, c.cfg.TTL); err != nil {
		c.report("set", err)
		return resp, nil
	}
	if err := c.cfg.Index.Add(sctx, bucket, Vector{Key: key, Fingerprint: fp, Embedding: vec}, c.cfg.TTL); err != nil {
		c.report("index add", err)
	}
	return resp, nil
}

// Hits and Refused count this client's hits and refusals by fingerprint.
func (c *Client) Hits() int64    { return c.hits.Load() }
func (c *Client) Refused() int64 { return c.refused.Load() }

func (c *Client) stepAside(err error) {
	if err == nil {
		err = errors.New("similar: the embeddings deployment returned no vector")
	}
	c.aside.Store(true)
	c.warn.Do(func() {
		if c.cfg.OnStepAside != nil {
			c.cfg.OnStepAside(err)
		}
	})
}

// embeddingCost prices an embedding's usage as the part of a call's Usage
// it is, and charges it through OnEmbeddingCost.
func (c *Client) embeddingCost(ctx context.Context, u model.Usage) model.Usage {
	e := model.Usage{EmbeddingTokens: u.PromptTokens}
	if c.cfg.PriceEmbedding != nil {
		e.EmbeddingUSD = c.cfg.PriceEmbedding(u)
	}
	e.CostUSD = e.EmbeddingUSD
	if c.cfg.OnEmbeddingCost != nil && e.EmbeddingTokens > 0 {
		c.cfg.OnEmbeddingCost(ctx, e)
	}
	return e
}

func (c *Client) lookup(result string, u model.Usage) {
	if c.cfg.OnLookup != nil {
		c.cfg.OnLookup(result, u)
	}
}

func (c *Client) report(op string, err error) {
	if c.cfg.OnError != nil {
		c.cfg.OnError(op, err)
	}
}

// hit builds the answer from a similar request's entry, replaying it to a
// streaming caller.
func hit(req *model.Request, e cache.Entry, sim float64) *model.Response {
	if req.OnDelta != nil {
		for _, w := range strings.SplitAfter(e.Content, " ") {
			if w != "" {
				req.OnDelta(model.Delta{Text: w, Cached: true})
			}
		}
	}
	return &model.Response{Model: e.Model, Content: e.Content, FinishReason: e.FinishReason,
		Usage:  model.Usage{Requests: 1, CachedResponses: 1, SavedTokens: e.Usage.TotalTokens(), SavedUSD: e.Usage.CostUSD},
		Cached: true, Similarity: math.Round(sim*10000) / 10000}
}

// bucketKey is what must be identical for two requests to be compared.
type bucketKey struct {
	V           int           `json:"v"`
	Namespace   string        `json:"ns"`
	Model       string        `json:"model"`
	Agent       string        `json:"agent"`
	Purpose     model.Purpose `json:"purpose"`
	System      []string      `json:"system"`
	Roles       []string      `json:"roles"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature *float64      `json:"temperature"`
	TopP        *float64      `json:"top_p"`
	Seed        *int64        `json:"seed"`
	Stop        []string      `json:"stop"`
	JSONMode    bool          `json:"json_mode"`
	// Left out when unset, so the buckets of other requests stay as they were.
	ReasoningEffort string                `json:"reasoning_effort,omitempty"`
	ResponseFormat  *model.ResponseFormat `json:"response_format,omitempty"`
}

// Bucket returns the hash of everything a similar request must share with
// req but its wording: namespace, model, agent, purpose, system prompt,
// message roles and names, and every generation parameter.
func Bucket(namespace string, req *model.Request) string {
	k := bucketKey{V: 1, Namespace: namespace, Model: req.Model, Agent: req.Meta.Agent, Purpose: req.Meta.Purpose,
		MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, Seed: req.Seed, Stop: req.Stop, JSONMode: req.JSONMode}
	k.ReasoningEffort, k.ResponseFormat = req.ReasoningEffort, req.ResponseFormat
	for _, m := range req.Messages {
		if m.Role == model.RoleSystem {
			k.System = append(k.System, m.Content)
		}
		k.Roles = append(k.Roles, string(m.Role)+":"+m.Name)
	}
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

var (
	numberRE = regexp.MustCompile(`\d+(?:[.,:/-]\d+)*`)
	quotedRE = regexp.MustCompile(`"[^"]+"|“[^”]+”|‘[^’]+’|«[^»]+»`)
	wordRE   = regexp.MustCompile(`[\p{L}][\p{L}\p{M}'’-]*`)
)

// Facts returns the fact fingerprint's items of a text, sorted and without
// repeats: numbers (with their separators, so 2.1 and 21 differ), quoted
// strings, and capitalised words that are not common sentence openers
// (names, places, months, weekdays).
func Facts(text string) []string {
	var facts []string
	for _, n := range numberRE.FindAllString(text, -1) {
		facts = append(facts, "#"+strings.TrimRight(n, ".,:/-"))
	}
	for _, q := range quotedRE.FindAllString(text, -1) {
		facts = append(facts, "q"+strings.ToLower(q))
	}
	for _, w := range wordRE.FindAllString(text, -1) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsUpper(r) && !openers[strings.ToLower(w)] {
			facts = append(facts, "n"+w)
		}
	}
	slices.Sort(facts)
	return slices.Compact(facts)
}

// Fingerprint hashes the facts of the request's non-system messages.
func Fingerprint(req *model.Request) string {
	var all []string
	for _, m := range req.Messages {
		if m.Role != model.RoleSystem {
			all = append(all, Facts(m.Content)...)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	h := sha256.New()
	for _, f := range all {
		_, _ = h.Write([]byte(f))
		_, _ = h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// openers are capitalised words that carry no fact: sentence openers and
// the like. A name that happens to be one of them is still compared by its
// embedding.
var openers = func() map[string]bool {
	m := map[string]bool{}
	for w := range strings.FieldsSeq("a an the on in at to for and or but of is are was were be by with from as that this these those it its " +
		"he she they we you i his her their our after before when while if then there here what which who how why " +
		"facts fact write please news article story report construction today yesterday tomorrow also") {
		m[w] = true
	}
	return m
}()

// conversation is the text embedded for a request: its non-system messages.
func conversation(req *model.Request) string {
	var b strings.Builder
	for _, m := range req.Messages {
		if m.Role == model.RoleSystem {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(m.Content)
	}
	return b.String()
}

func normalize(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// cosine of two unit vectors (0 when their lengths differ).
func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot
}

// EncodeVector and DecodeVector are the compact form index backends store
// (little-endian float32s).
func EncodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// DecodeVector reverses EncodeVector.
func DecodeVector(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Rows is the part of a SQL result set (database/sql's or pgx's) that
// ScanVectors reads.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanVectors reads rows of (key, fingerprint, EncodeVector blob), as the SQL
// indexes store them.
func ScanVectors(rows Rows) ([]Vector, error) {
	var out []Vector
	for rows.Next() {
		var v Vector
		var blob []byte
		if err := rows.Scan(&v.Key, &v.Fingerprint, &blob); err != nil {
			return nil, err
		}
		v.Embedding = DecodeVector(blob)
		out = append(out, v)
	}
	return out, rows.Err()
}
