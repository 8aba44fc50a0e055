package pool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/newsroom-dev/newsroom/model/profile"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// Deployment is one entry of a deployments file.
type Deployment struct {
	// Name identifies the deployment in answers, logs and metrics.
	Name string
	// Endpoint is the Azure OpenAI resource URL (https, or http to a
	// loopback host).
	Endpoint string
	// Deployment is the Azure deployment name on that resource.
	Deployment string
	// APIVersion is the api-version; empty means provider.DefaultAPIVersion.
	APIVersion string
	// APIKeyEnv names the environment variable holding the API key; empty
	// means Entra ID. APIKey is its value, read when the file is loaded.
	APIKeyEnv string
	APIKey    string
	// Priority orders deployments, 1 first (the default).
	Priority int
	// Weight shares calls among equal priorities (default 1).
	Weight int
	// RPM and TPM are the deployment's quota; 0 means the process default.
	RPM, TPM int
	// Model is the model behind the deployment ("gpt-5-mini"): it prices
	// the calls and picks the profile that decides the parameters they
	// carry (package model/profile); empty means the deployment name.
	Model string
	// API is the protocol the deployment is called with: APIChat (the
	// default, chat completions) or APIResponses (the Responses API).
	API string
	// Pool names the pool the deployment belongs to; empty means
	// DefaultPool. A team file's agent may name a pool or a deployment (see
	// the package documentation).
	Pool string
	// Line is where the entry starts in the file.
	Line     int
	poolLine int
}

// APIs a deployment is called with (its api: field).
const (
	APIChat      = "chat"
	APIResponses = "responses"
)

// File is a parsed deployments file.
type File struct {
	Path        string
	Deployments []Deployment
}

// ErrFile is matched (errors.Is) by every error about a deployments file's
// content.
var ErrFile = errors.New("pool: invalid deployments file")

// FileError is a problem in a deployments file, at a line and field.
type FileError struct {
	Path  string
	Line  int
	Field string
	Msg   string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.Path, e.Line, e.Field, e.Msg)
}

// Is makes errors.Is(err, ErrFile) true.
func (e *FileError) Is(target error) bool { return target == ErrFile }

// LoadFile reads and validates a deployments file. lookupEnv reads the
// variables api_key_env names (nil means os.LookupEnv). Nothing is called.
//
// A path "env:NAME" reads the file's content from the environment variable
// NAME instead: an App Service app gets its pool from an app setting that
// the ARM template writes.
func LoadFile(path string, lookupEnv func(string) (string, bool)) (*File, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if name, ok := strings.CutPrefix(path, "env:"); ok {
		v, set := lookupEnv(name)
		if !set {
			return nil, fmt.Errorf("%w: %s: the environment variable %s is not set", ErrFile, path, name)
		}
		return Parse(path, []byte(v), lookupEnv)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pool: deployments file: %w", err)
	}
	return Parse(path, data, lookupEnv)
}

// Parse validates the content of a deployments file; path names it in errors.
//
// The shape:
//
//	deployments:
//	  - name: primary
//	    endpoint: https://contoso-eastus.openai.azure.com
//	    deployment: gpt-4o
//	    api_version: 2024-10-21
//	    api: chat                           # or responses; default chat
//	    api_key_env: PRIMARY_OPENAI_KEY   # omit for Entra ID
//	    priority: 1
//	    weight: 1
//	    rpm: 180
//	    tpm: 30000
//	    model: gpt-4o
//	    pool: fast                          # optional; default "default"
//
// Pool names and deployment names share one namespace: a pool may not be
// named like a deployment.
func Parse(path string, data []byte, lookupEnv func(string) (string, bool)) (*File, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	fail := func(line int, field, format string, args ...any) error {
		return &FileError{Path: path, Line: max(line, 1), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line := 1
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// The parser's message carries "line N:"; keep it whole.
			if _, after, ok := strings.Cut(err.Error(), "line "); ok {
				if n, err := strconv.Atoi(strings.SplitN(after, ":", 2)[0]); err == nil {
					line = n
				}
			}
		}
		if err.Error() == "EOF" {
			return nil, fail(1, "deployments", "the file is empty: it must list at least one deployment")
		}
		return nil, fail(line, "yaml", "%v", err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "deployments", "the file must be a mapping with a deployments list")
	}
	var list *yaml.Node
	listLine := root.Line
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "deployments" {
			return nil, fail(k.Line, k.Value, "unknown field (the file has one field, deployments)")
		}
		list, listLine = v, k.Line
	}
	if list == nil || (list.Kind == yaml.ScalarNode && list.Tag == "!!null") {
		return nil, fail(listLine, "deployments", "no deployment listed: at least one is needed")
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fail(list.Line, "deployments", "must be a list of deployments")
	}
	if len(list.Content) == 0 {
		return nil, fail(list.Line, "deployments", "no deployment listed: at least one is needed")
	}
	f := &File{Path: path}
	names := map[string]int{}
	for i, item := range list.Content {
		at := fmt.Sprintf("deployments[%d]", i)
		if item.Kind != yaml.MappingNode {
			return nil, fail(item.Line, at, "must be a mapping (name, endpoint, deployment, ...)")
		}
		d := Deployment{Line: item.Line, Priority: 1, Weight: 1}
		lines := map[string]int{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			field := at + "." + k.Value
			if _, dup := lines[k.Value]; dup {
				return nil, fail(k.Line, field, "given twice")
			}
			lines[k.Value] = v.Line
			if v.Kind != yaml.ScalarNode {
				return nil, fail(v.Line, field, "must be a single value")
			}
			str := func(dst *string) { *dst = strings.TrimSpace(v.Value) }
			num := func(dst *int, min int) error {
				n, err := strconv.Atoi(strings.TrimSpace(v.Value))
				if err != nil || n < min {
					return fail(v.Line, field, "must be a whole number of at least %d, not %q", min, v.Value)
				}
				*dst = n
				return nil
			}
			var err error
			switch k.Value {
			case "name":
				str(&d.Name)
			case "endpoint":
				str(&d.Endpoint)
			case "deployment":
				str(&d.Deployment)
			case "api_version":
				str(&d.APIVersion)
			case "api_key_env":
				str(&d.APIKeyEnv)
			case "model":
				str(&d.Model)
			case "api":
				str(&d.API)
				if d.API != APIChat && d.API != APIResponses {
					return nil, fail(v.Line, field, "is %q: want %s (chat completions, the default) or %s (the Responses API)", v.Value, APIChat, APIResponses)
				}
			case "pool":
				str(&d.Pool)
				if d.Pool == "" {
					return nil, fail(v.Line, field, "must name a pool (omit it for the default pool, %q)", DefaultPool)
				}
			case "priority":
				err = num(&d.Priority, 1)
			case "weight":
				err = num(&d.Weight, 1)
			case "rpm":
				err = num(&d.RPM, 0)
			case "tpm":
				err = num(&d.TPM, 0)
			default:
				return nil, fail(k.Line, field, "unknown field (want name, endpoint, deployment, api_version, api, api_key_env, priority, weight, rpm, tpm, model or pool)")
			}
			if err != nil {
				return nil, err
			}
		}
		lineOf := func(k string) int {
			if l, ok := lines[k]; ok {
				return l
			}
			return item.Line
		}
		switch {
		case d.Name == "":
			return nil, fail(lineOf("name"), at+".name", "missing: every deployment needs a name")
		case names[d.Name] != 0:
			return nil, fail(lineOf("name"), at+".name", "%q is already the name of the deployment at line %d", d.Name, names[d.Name])
		case d.Endpoint == "":
			return nil, fail(lineOf("endpoint"), at+".endpoint", "missing: the Azure OpenAI endpoint, e.g. https://NAME.openai.azure.com")
		case d.Deployment == "":
			return nil, fail(lineOf("deployment"), at+".deployment", "missing: the deployment name on that endpoint")
		}
		names[d.Name] = item.Line
		if _, err := provider.CheckEndpoint(d.Endpoint); err != nil {
			msg := err.Error()
			if errors.Is(err, provider.ErrInsecureEndpoint) {
				msg = "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https"
			}
			return nil, fail(lineOf("endpoint"), at+".endpoint", "%s", msg)
		}
		if d.APIKeyEnv != "" {
			key, ok := lookupEnv(d.APIKeyEnv)
			if !ok || strings.TrimSpace(key) == "" {
				return nil, fail(lineOf("api_key_env"), at+".api_key_env", "the environment variable %s is not set (omit api_key_env to use Entra ID)", d.APIKeyEnv)
			}
			d.APIKey = strings.TrimSpace(key)
		}
		if d.APIVersion == "" {
			d.APIVersion = provider.DefaultAPIVersion
		}
		if d.API == "" {
			d.API = APIChat
		}
		if msg := reasoningVersionProblem(d); msg != "" {
			return nil, fail(lineOf("api_version"), at+".api_version", "%s", msg)
		}
		d.poolLine = lineOf("pool")
		f.Deployments = append(f.Deployments, d)
	}
	for i, d := range f.Deployments {
		pool := d.Pool
		if pool == "" {
			pool = DefaultPool
		}
		if at, clash := names[pool]; clash {
			field := fmt.Sprintf("deployments[%d].pool", i)
			if d.Pool == "" {
				field = fmt.Sprintf("deployments[%d]", i)
			}
			return nil, fail(d.poolLine, field, "pool %q has the name of the deployment at line %d: pools and deployments need distinct names", pool, at)
		}
	}
	return f, nil
}

// reasoningVersionProblem says why a reasoning deployment cannot be called
// with its dated api-version (one older than the first that takes
// max_completion_tokens); "" when it can.
func reasoningVersionProblem(d Deployment) string {
	if strings.EqualFold(d.APIVersion, provider.APIVersionV1) || d.APIVersion >= provider.MinReasoningAPIVersion {
		return ""
	}
	name := d.Model
	if name == "" {
		name = d.Deployment
	}
	if p, ok := profile.Default().Lookup(name); !ok || !p.Reasoning {
		return ""
	}
	return fmt.Sprintf("%s is older than %s, the first api-version that takes max_completion_tokens, which %s (a reasoning model) needs: use api_version: v1 (or %s or later)",
		d.APIVersion, provider.MinReasoningAPIVersion, name, provider.MinReasoningAPIVersion)
}
