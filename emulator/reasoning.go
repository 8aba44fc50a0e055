package emulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/model/profile"
)

// A deployment's model decides which parameters it takes: a reasoning
// model (the GPT-5 family, o3, o4-mini) refuses max_tokens and the
// sampling parameters with Azure's 400 bodies, takes max_completion_tokens,
// reasoning_effort and (GPT-5) verbosity, and spends hidden reasoning
// tokens before it writes. Other models (GPT-4o, GPT-4.1) refuse
// reasoning_effort and verbosity.

// modelFor is the model behind a deployment: Config.Deployments, else
// Config.ModelName.
func (s *Server) modelFor(deployment string) string {
	if m := s.cfg.Deployments[deployment]; m != "" {
		return m
	}
	return s.cfg.ModelName
}

// profileOf is the profile of a model; a model the table does not know is
// treated as GPT-4o.
func profileOf(modelName string) profile.Profile {
	if p, ok := profile.Default().Lookup(modelName); ok {
		return p
	}
	p, _ := profile.Default().Lookup("gpt-4o")
	return p
}

func unsupportedParameter(param string) errorBody {
	return invalidRequest(strp("unsupported_parameter"), param,
		"Unsupported parameter: '"+param+"' is not supported with this model.")
}

// checkParams returns the 400 Azure answers a request to a model with p
// with, if any; apiVersion is the dated route's api-version ("" for v1).
func checkParams(req *chatRequest, p profile.Profile, apiVersion string) *errorBody {
	fail := func(b errorBody) *errorBody { return &b }
	if req.MaxCompletionTokens != nil && apiVersion != "" && apiVersion < profile.MinMaxCompletionAPIVersion {
		return fail(invalidRequest(nil, "", "Unrecognized request argument supplied: max_completion_tokens"))
	}
	if !p.Reasoning {
		switch {
		case req.ReasoningEffort != nil:
			return fail(unsupportedParameter(profile.ParamReasoningEffort))
		case req.Verbosity != nil:
			return fail(unsupportedParameter(profile.ParamVerbosity))
		}
		return nil
	}
	switch {
	case req.MaxTokens != nil:
		return fail(invalidRequest(strp("unsupported_parameter"), profile.ParamMaxTokens,
			"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."))
	case req.Temperature != nil && *req.Temperature != 1:
		return fail(invalidRequest(strp("unsupported_value"), profile.ParamTemperature, fmt.Sprintf(
			"Unsupported value: 'temperature' does not support %s with this model. Only the default (1) value is supported.",
			strconv.FormatFloat(*req.Temperature, 'g', -1, 64))))
	case req.TopP != nil:
		return fail(unsupportedParameter(profile.ParamTopP))
	case req.PresencePenalty != nil:
		return fail(unsupportedParameter(profile.ParamPresencePenalty))
	case req.FrequencyPenalty != nil:
		return fail(unsupportedParameter(profile.ParamFrequencyPenalty))
	case req.Logprobs != nil:
		return fail(unsupportedParameter(profile.ParamLogprobs))
	case len(req.LogitBias) > 0 && string(req.LogitBias) != "null":
		return fail(unsupportedParameter(profile.ParamLogitBias))
	case req.ReasoningEffort != nil && !slices.Contains(p.Efforts, *req.ReasoningEffort):
		return fail(invalidValue(profile.ParamReasoningEffort, *req.ReasoningEffort, p.Efforts))
	case req.Verbosity != nil && !p.Verbosity:
		return fail(unsupportedParameter(profile.ParamVerbosity))
	case req.Verbosity != nil && !profile.ValidVerbosity(*req.Verbosity):
		return fail(invalidValue(profile.ParamVerbosity, *req.Verbosity,
			[]string{profile.VerbosityLow, profile.VerbosityMedium, profile.VerbosityHigh}))
	}
	return nil
}

// invalidValue is Azure's 400 for a value a parameter does not take:
// "Invalid value: 'none'. Supported values are: 'low', 'medium', and 'high'."
func invalidValue(param, got string, allowed []string) errorBody {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	list := strings.Join(quoted, ", ")
	if n := len(quoted); n > 1 {
		list = strings.Join(quoted[:n-1], ", ") + ", and " + quoted[n-1]
	}
	return invalidRequest(strp("invalid_value"), param, "Invalid value: '"+got+"'. Supported values are: "+list+".")
}

// reasoningTokens is how many hidden tokens a reasoning model spends on a
// prompt at an effort: a fixed part per effort plus a share of the prompt,
// so they grow with both. none spends nothing.
func reasoningTokens(effort string, prompt int) int {
	switch effort {
	case profile.EffortMinimal:
		return 8 + prompt/100
	case profile.EffortLow:
		return 48 + prompt/16
	case profile.EffortMedium:
		return 160 + prompt/6
	case profile.EffortHigh:
		return 480 + prompt/3
	}
	return 0
}

// applyVerbosity shortens a reply for verbosity low: a reply of more than
// three paragraphs keeps the first half of them (at least three), and each
// paragraph of more than one sentence keeps its first. Short lines
// (headlines, verdicts, names) are kept whole. medium and high leave it as
// it is: the personas already write in full.
func applyVerbosity(text, verbosity string) string {
	if verbosity != profile.VerbosityLow {
		return text
	}
	paras := strings.Split(text, "\n\n")
	if n := len(paras); n > 3 {
		paras = paras[:max(3, (n+1)/2)]
	}
	for i, p := range paras {
		if wordCount(p) <= 12 || strings.Contains(p, "\n") {
			continue
		}
		if ss := sentences(p); len(ss) > 1 {
			paras[i] = strings.TrimSpace(ss[0])
		}
	}
	return strings.Join(paras, "\n\n")
}
