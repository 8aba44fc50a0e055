package emulator

import (
	"encoding/json"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultEmbeddingDimensions is the length of an embedding when a request
// does not ask for one (text-embedding-3-small's).
const DefaultEmbeddingDimensions = 1536

// embeddingsRequest is Azure's embeddings request body (2024-10-21).
type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
	User           string          `json:"user"`
}

type embeddingItem struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

type embeddingsResponse struct {
	Object string          `json:"object"`
	Data   []embeddingItem `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// embeddings serves POST /openai/deployments/{d}/embeddings: deterministic
// vectors in which texts with the same content words point the same way
// (a hashed bag of words), so paraphrases are close and different texts
// are not, with the usage Azure reports. Forced and header faults apply.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var req embeddingsRequest
	if err == nil && len(body) <= maxBody {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("BadRequest"), "",
			"We could not parse the JSON body of your request. The API expects a JSON payload."))
		return
	}
	if rec.Deployment == "" {
		rec.Deployment = req.Model // the v1 API names the deployment in the body
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil || len(inputs) == 0 {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "input", "'input' must be a string or a non-empty array of strings."))
		return
	}
	dims := DefaultEmbeddingDimensions
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	if dims < 1 || dims > 3072 {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "dimensions", "'dimensions' must be between 1 and 3072."))
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "encoding_format", "the emulator supports encoding_format float only."))
		return
	}
	c := &call{azure: true, rec: rec, apiVersion: rec.APIVersion, stall: s.cfg.Faults.Stall}
	if !s.chooseFault(w, r.Header, c) {
		return
	}
	switch c.fault {
	case Fault429:
		rec.Status = s.throttle(w, c, "token", max(c.retryAfter, time.Second), -1, -1)
		return
	case Fault500:
		rec.Status = s.fail(w, http.StatusInternalServerError, azureError("InternalServerError", msgServerError))
		return
	case Fault503:
		rec.Status = s.fail(w, http.StatusServiceUnavailable, azureError("ServiceUnavailable", msgUnavailable))
		return
	}
	resp := embeddingsResponse{Object: "list", Model: "text-embedding-3-small"}
	for i, text := range inputs {
		n := s.countText(text)
		resp.Usage.PromptTokens += n
		resp.Data = append(resp.Data, embeddingItem{Object: "embedding", Index: i, Embedding: Embed(text, dims)})
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	s.setIDs(w.Header())
	rec.Status = http.StatusOK
	writeJSON(w, http.StatusOK, resp)
}

// Embed is the emulator's embedding of text: each content word (lowercased,
// common function words left out) adds a signed unit to a few hashed
// dimensions; the sum is normalised to length 1. Texts with the same content
// words have cosine similarity 1 whatever their order; each word that
// differs lowers it.
func Embed(text string, dims int) []float32 {
	v := make([]float64, dims)
	for _, word := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != ','
	}) {
		word = strings.Trim(word, ".,")
		if word == "" || stopWords[word] {
			continue
		}
		for k := range 3 {
			h := fnv.New64a()
			_, _ = h.Write([]byte(strconv.Itoa(k)))
			_, _ = h.Write([]byte(word))
			x := h.Sum64()
			sign := 1.0
			if x&1 == 1 {
				sign = -1
			}
			v[(x>>1)%uint64(dims)] += sign
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, dims)
	if norm == 0 {
		out[0] = 1
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for w := range strings.FieldsSeq("a an the of on in at to for and or but is are was were be been by with from as that this it its " +
		"will would has have had about write please article short news story report facts fact") {
		m[w] = true
	}
	return m
}()
