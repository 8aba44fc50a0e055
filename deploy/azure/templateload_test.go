package azure_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// template is the part of an ARM template the tests read; resources stay generic maps so that
// every property can be checked by path.
type template struct {
	Schema         string                     `json:"$schema"`
	ContentVersion string                     `json:"contentVersion"`
	Parameters     map[string]templateParam   `json:"parameters"`
	Variables      map[string]any             `json:"variables"`
	Resources      []map[string]any           `json:"resources"`
	Outputs        map[string]map[string]any  `json:"outputs"`
	Functions      []any                      `json:"functions"`
	raw            map[string]json.RawMessage // every top-level member, to reject unknown ones
}

type templateParam struct {
	Type          string `json:"type"`
	DefaultValue  any    `json:"defaultValue"`
	AllowedValues []any  `json:"allowedValues"`
}

// Role definitions the design grants, looked up in Azure's built-in roles list.
const (
	roleOpenAIUser       = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd" // Cognitive Services OpenAI User
	roleKeyVaultSecrets  = "4633458b-17de-408a-b874-0445c86b69e6" // Key Vault Secrets User
	roleAcrPull          = "7f951dda-4ed3-4680-a7ca-43fe172d538d" // AcrPull
	roleOwner            = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	roleContributor      = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	roleOpenAIContrib    = "a001fd3d-188f-4b5d-821b-7da978bf7442"
	roleCognitiveContrib = "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68"
)

// apiVersions are the versions this template was written against, each taken from the
// resource's template reference. A change of version is a deliberate edit here too.
var apiVersions = map[string]string{
	"Microsoft.CognitiveServices/accounts":                     "2024-10-01",
	"Microsoft.CognitiveServices/accounts/deployments":         "2024-10-01",
	"Microsoft.ManagedIdentity/userAssignedIdentities":         "2023-01-31",
	"Microsoft.Authorization/roleAssignments":                  "2022-04-01",
	"Microsoft.Web/serverfarms":                                "2023-12-01",
	"Microsoft.Web/sites":                                      "2023-12-01",
	"Microsoft.Web/sites/basicPublishingCredentialsPolicies":   "2023-12-01",
	"Microsoft.KeyVault/vaults":                                "2023-07-01",
	"Microsoft.KeyVault/vaults/secrets":                        "2023-07-01",
	"Microsoft.OperationalInsights/workspaces":                 "2023-09-01",
	"Microsoft.Insights/components":                            "2020-02-02",
	"Microsoft.Network/virtualNetworks":                        "2023-11-01",
	"Microsoft.Network/networkSecurityGroups":                  "2023-11-01",
	"Microsoft.Network/privateEndpoints":                       "2023-11-01",
	"Microsoft.Network/privateEndpoints/privateDnsZoneGroups":  "2023-11-01",
	"Microsoft.Network/privateDnsZones":                        "2020-06-01",
	"Microsoft.Network/privateDnsZones/virtualNetworkLinks":    "2020-06-01",
	"Microsoft.Insights/diagnosticSettings":                    "2021-05-01-preview",
	"Microsoft.Insights/actionGroups":                          "2023-01-01",
	"Microsoft.Insights/metricAlerts":                          "2018-03-01",
	"Microsoft.Insights/scheduledQueryRules":                   "2023-12-01",
	"Microsoft.Resources/deployments":                          "2022-09-01",
	"Microsoft.Web/sites/sitecontainers":                       "2024-04-01",
	"Microsoft.Insights/autoscalesettings":                     "2022-10-01",
	"Microsoft.Authorization/policyAssignments":                "2024-04-01",
	"Microsoft.Consumption/budgets":                            "2023-05-01",
	"Microsoft.DBforPostgreSQL/flexibleServers":                "2024-08-01",
	"Microsoft.DBforPostgreSQL/flexibleServers/administrators": "2024-08-01",
	"Microsoft.DBforPostgreSQL/flexibleServers/databases":      "2024-08-01",
	"Microsoft.Cache/redis":                                    "2024-03-01",
	"Microsoft.Cache/redis/accessPolicyAssignments":            "2024-03-01",
}

// notTaggable are the types in this template whose resource providers take no tags.
var notTaggable = map[string]bool{
	"Microsoft.Authorization/roleAssignments":                  true,
	"Microsoft.Insights/diagnosticSettings":                    true,
	"Microsoft.Network/privateEndpoints/privateDnsZoneGroups":  true,
	"Microsoft.Web/sites/basicPublishingCredentialsPolicies":   true,
	"Microsoft.Web/sites/sitecontainers":                       true,
	"Microsoft.Authorization/policyAssignments":                true,
	"Microsoft.Consumption/budgets":                            true,
	"Microsoft.DBforPostgreSQL/flexibleServers/administrators": true,
	"Microsoft.DBforPostgreSQL/flexibleServers/databases":      true,
	"Microsoft.Cache/redis/accessPolicyAssignments":            true,
}

// externalTypes may be named by resourceId without being declared: resources that live outside
// the template (the registry the image comes from).
var externalTypes = map[string]bool{
	"Microsoft.ContainerRegistry/registries": true,
}

// armFunctions are the template functions the template may call; a typo fails the test instead
// of the deployment.
var armFunctions = map[string]bool{
	"parameters": true, "variables": true, "resourceId": true, "subscriptionResourceId": true,
	"extensionResourceId": true, "reference": true, "format": true, "concat": true, "guid": true,
	"uniqueString": true, "resourceGroup": true, "subscription": true, "take": true, "toLower": true,
	"json": true, "mul": true, "if": true, "empty": true, "not": true, "union": true,
	"createObject": true, "createArray": true, "equals": true, "and": true, "or": true,
	"copyIndex": true, "div": true, "tenantResourceId": true, "string": true, "utcNow": true, "length": true,
}

// declared is one resource of the template, with its name and scope as canonical segments.
type declared struct {
	res   map[string]any
	typ   string
	segs  []string // name segments, canonical expression text; literals quoted
	scope string   // canonical "type|seg|seg" of the scope target, "" for the resource group
}

func (d declared) key() string { return d.typ + "|" + strings.Join(d.segs, "|") }

type checkedTemplate struct {
	name  string // file name, or "nested <deployment>" for an inner-scope template
	t     *template
	decls []declared
	exprs map[string]*expr // every expression string in the template (not its nested ones), parsed

	// For a nested template: the deployment resource in the parent that carries it.
	parent     *checkedTemplate
	deployment declared
	nested     []*checkedTemplate
}

// all returns this template and every nested one, depth first.
func (ct *checkedTemplate) all() []*checkedTemplate {
	out := []*checkedTemplate{ct}
	for _, n := range ct.nested {
		out = append(out, n.all()...)
	}
	return out
}

// conditional reports whether the template's resources deploy only under a condition: it is
// nested in a conditional deployment.
func (ct *checkedTemplate) conditional() bool {
	for c := ct; c.parent != nil; c = c.parent {
		if _, ok := c.deployment.res["condition"]; ok {
			return true
		}
	}
	return false
}

func loadTemplate(t *testing.T) *checkedTemplate {
	t.Helper()
	data, err := os.ReadFile("azuredeploy.json")
	if err != nil {
		t.Fatal(err)
	}
	return newCheckedTemplate(t, "azuredeploy.json", data, nil, declared{})
}

const deploymentsType = "Microsoft.Resources/deployments"

func newCheckedTemplate(t *testing.T, name string, data []byte, parent *checkedTemplate, deployment declared) *checkedTemplate {
	t.Helper()
	var tpl template
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("%s is not valid JSON: %v", name, err)
	}
	if err := json.Unmarshal(data, &tpl.raw); err != nil {
		t.Fatal(err)
	}
	// Walk a copy without the inner-scope nested templates: their expressions belong to them.
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	inner := map[int]map[string]any{}
	resources, _ := doc["resources"].([]any)
	for i, r := range resources {
		props, _ := path(r, "properties").(map[string]any)
		if path(r, "type") == deploymentsType && path(props, "expressionEvaluationOptions", "scope") == "inner" {
			inner[i], _ = props["template"].(map[string]any)
			delete(props, "template")
		}
	}
	ct := &checkedTemplate{name: name, t: &tpl, exprs: map[string]*expr{}, parent: parent, deployment: deployment}
	var parseErrs []string
	walkStrings(doc, func(s string) {
		if !isExpression(s) {
			return
		}
		e, err := parseExpression(s)
		if err != nil {
			parseErrs = append(parseErrs, err.Error())
			return
		}
		ct.exprs[s] = e
	})
	if len(parseErrs) > 0 {
		t.Fatalf("%s: expressions that do not parse:\n%s", name, strings.Join(parseErrs, "\n"))
	}
	for i, r := range tpl.Resources {
		typ, _ := r["type"].(string)
		rname, _ := r["name"].(string)
		segs, err := ct.nameSegments(rname)
		if err != nil {
			t.Fatalf("%s: resource %d (%s): %v", name, i, typ, err)
		}
		d := declared{res: r, typ: typ, segs: segs}
		if sc, ok := r["scope"].(string); ok {
			st, ss, err := ct.scopeTarget(sc)
			if err != nil {
				t.Fatalf("%s: resource %d (%s %s): %v", name, i, typ, rname, err)
			}
			d.scope = st + "|" + strings.Join(ss, "|")
		}
		ct.decls = append(ct.decls, d)
	}
	for i, d := range ct.decls {
		if typ := d.typ; typ == deploymentsType && inner[i] == nil {
			t.Fatalf("%s: nested deployment %v must use an inner-scope template", name, d.segs)
		}
		if inner[i] != nil {
			body, err := json.Marshal(inner[i])
			if err != nil {
				t.Fatal(err)
			}
			ct.nested = append(ct.nested, newCheckedTemplate(t, "nested "+strings.Join(d.segs, "/"), body, ct, d))
		}
	}
	return ct
}

// passed returns the canonical text of the value the parent deployment passes for a nested
// template's parameter, or "" when this is not a nested template or the parameter is not passed.
func (ct *checkedTemplate) passed(param string) string {
	if ct.parent == nil {
		return ""
	}
	v, _ := path(ct.deployment.res, "properties", "parameters", param, "value").(string)
	if v == "" {
		return ""
	}
	return ct.parent.canonical(v)
}

// outerText returns the canonical text of a template string with the parameters of nested
// templates replaced by the values their parents pass, so that it can be compared with the
// outermost template's resources.
func (ct *checkedTemplate) outerText(s string) string {
	text := ct.canonical(s)
	for c := ct; c.parent != nil; c = c.parent {
		for name := range c.t.Parameters {
			if v := c.passed(name); v != "" {
				text = strings.ReplaceAll(text, "parameters("+quote(name)+")", v)
			}
		}
	}
	return text
}

// walkStrings calls fn for every string anywhere inside v (keys included: userAssignedIdentities
// keys are expressions).
func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for k, vv := range x {
			fn(k)
			walkStrings(vv, fn)
		}
	case map[string]json.RawMessage:
		for k, raw := range x {
			fn(k)
			var vv any
			if err := json.Unmarshal(raw, &vv); err == nil {
				walkStrings(vv, fn)
			}
		}
	case []any:
		for _, vv := range x {
			walkStrings(vv, fn)
		}
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// nameSegments splits a resource name into canonical segments: "a/b" gives 'a','b';
// "[format('{0}/{1}', x, y)]" gives x,y; any other expression is one segment.
func (ct *checkedTemplate) nameSegments(name string) ([]string, error) {
	if name == "" {
		return nil, fmt.Errorf("resource has no name")
	}
	if !isExpression(name) {
		var segs []string
		for _, p := range strings.Split(name, "/") {
			segs = append(segs, quote(p))
		}
		return segs, nil
	}
	e := ct.exprs[name]
	if e.Func == "format" && len(e.Access) == 0 {
		if f, ok := e.stringArg(0); ok && strings.Contains(f, "/") {
			var segs []string
			for _, p := range strings.Split(f, "/") {
				var n int
				if _, err := fmt.Sscanf(p, "{%d}", &n); err == nil && fmt.Sprintf("{%d}", n) == p {
					if n+1 >= len(e.Args) {
						return nil, fmt.Errorf("format placeholder %s has no argument in %s", p, name)
					}
					segs = append(segs, e.Args[n+1].String())
				} else {
					segs = append(segs, quote(p))
				}
			}
			return segs, nil
		}
	}
	return []string{e.String()}, nil
}

// scopeTarget reads an extension resource's scope, written as
// "[format('Provider/type/{0}', name)]", into its type and name segments.
func (ct *checkedTemplate) scopeTarget(scope string) (string, []string, error) {
	e, ok := ct.exprs[scope]
	if !ok || e.Func != "format" {
		return "", nil, fmt.Errorf("scope %q is not a format('Provider/type/{0}', ...) expression", scope)
	}
	f, _ := e.stringArg(0)
	parts := strings.Split(f, "/")
	if len(parts) < 3 || len(parts)%2 != 1 {
		return "", nil, fmt.Errorf("scope %q does not name a resource", scope)
	}
	typ := parts[0]
	var segs []string
	for i := 1; i < len(parts); i++ {
		if i%2 == 1 {
			typ += "/" + parts[i]
			continue
		}
		var n int
		if _, err := fmt.Sscanf(parts[i], "{%d}", &n); err != nil || n+1 >= len(e.Args) {
			return "", nil, fmt.Errorf("scope %q: segment %q is not a placeholder with an argument", scope, parts[i])
		}
		segs = append(segs, e.Args[n+1].String())
	}
	return typ, segs, nil
}

// find returns the declared resource with this type and these name segments (and no scope).
func (ct *checkedTemplate) find(typ string, segs []string) (declared, bool) {
	want := typ + "|" + strings.Join(segs, "|")
	for _, d := range ct.decls {
		if strings.EqualFold(d.typ, typ) && d.key()[len(d.typ):] == want[len(typ):] {
			return d, true
		}
	}
	return declared{}, false
}

// resolveID checks that a resourceId/extensionResourceId/subscriptionResourceId expression names
// a resource the template declares (or an allowed external one) and returns its type and segments.
func (ct *checkedTemplate) resolveID(e *expr) (typ string, segs []string, err error) {
	switch e.Func {
	case "resourceId":
		args := e.Args
		var group *expr
		if t0, ok := e.stringArg(0); !ok || !strings.Contains(t0, "/") {
			group, args = args[0], args[1:] // resourceId(resourceGroup, type, names...)
		}
		if len(args) == 0 || !args[0].IsStr {
			return "", nil, fmt.Errorf("%s: the type is not a literal", e)
		}
		typ := args[0].Lit
		for _, a := range args[1:] {
			segs = append(segs, a.String())
		}
		if group != nil {
			d, ok := ct.find(typ, segs)
			if !ok {
				return "", nil, fmt.Errorf("%s names no resource of the template", e)
			}
			rg, _ := d.res["resourceGroup"].(string)
			if rg == "" || ct.canonical(rg) != group.String() {
				return "", nil, fmt.Errorf("%s: resource group %s is not the resource's resourceGroup %q", e, group, rg)
			}
			return typ, segs, nil
		}
		if strings.Count(typ, "/") != len(segs) {
			return "", nil, fmt.Errorf("%s: type %s takes %d name segments, got %d", e, typ, strings.Count(typ, "/"), len(segs))
		}
		if externalTypes[typ] {
			return typ, segs, nil
		}
		if typ == "Microsoft.Network/virtualNetworks/subnets" {
			if err := ct.resolveSubnet(segs); err != nil {
				return "", nil, fmt.Errorf("%s: %w", e, err)
			}
			return typ, segs, nil
		}
		if _, ok := ct.find(typ, segs); !ok {
			return "", nil, fmt.Errorf("%s names no resource of the template", e)
		}
		return typ, segs, nil
	case "extensionResourceId":
		if len(e.Args) != 3 {
			return "", nil, fmt.Errorf("%s: want 3 arguments", e)
		}
		st, ss, err := ct.resolveID(e.Args[0])
		if err != nil {
			return "", nil, err
		}
		typ, ok := e.stringArg(1)
		if !ok {
			return "", nil, fmt.Errorf("%s: the type is not a literal", e)
		}
		name := e.Args[2].String()
		scope := st + "|" + strings.Join(ss, "|")
		for _, d := range ct.decls {
			if d.typ == typ && d.scope == scope && len(d.segs) == 1 && d.segs[0] == name {
				return typ, d.segs, nil
			}
		}
		return "", nil, fmt.Errorf("%s names no extension resource of the template", e)
	case "subscriptionResourceId":
		typ, ok := e.stringArg(0)
		if !ok || typ != "Microsoft.Authorization/roleDefinitions" {
			return "", nil, fmt.Errorf("%s: only built-in role definitions are expected at subscription scope", e)
		}
		return typ, []string{e.Args[1].String()}, nil
	}
	return "", nil, fmt.Errorf("%s is not a resource id function", e)
}

func (ct *checkedTemplate) resolveSubnet(segs []string) error {
	vnet, ok := ct.find("Microsoft.Network/virtualNetworks", segs[:1])
	if !ok {
		return fmt.Errorf("no virtual network %s", segs[0])
	}
	for _, s := range ct.subnets(vnet) {
		if n, _ := s["name"].(string); ct.canonical(n) == segs[1] {
			return nil
		}
	}
	return fmt.Errorf("virtual network %s has no subnet %s", segs[0], segs[1])
}

func (ct *checkedTemplate) subnets(vnet declared) []map[string]any {
	var out []map[string]any
	for _, s := range path(vnet.res, "properties", "subnets").([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

// canonical returns the canonical text of a template string: its expression, or the quoted literal.
func (ct *checkedTemplate) canonical(s string) string {
	if e, ok := ct.exprs[s]; ok {
		return e.String()
	}
	return quote(s)
}

// literal resolves a string that is a literal or a single variables('x') reference to a literal.
func (ct *checkedTemplate) literal(s string) (string, bool) {
	if !isExpression(s) {
		return s, true
	}
	e := ct.exprs[s]
	if e.Func == "variables" && len(e.Access) == 0 {
		name, _ := e.stringArg(0)
		if v, ok := ct.t.Variables[name].(string); ok && !isExpression(v) {
			return v, true
		}
	}
	return "", false
}

// path walks nested maps by key and returns nil when a key is missing.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (ct *checkedTemplate) ofType(typ string) []declared {
	var out []declared
	for _, d := range ct.decls {
		if d.typ == typ {
			out = append(out, d)
		}
	}
	return out
}

func (ct *checkedTemplate) one(t *testing.T, typ string) declared {
	t.Helper()
	// Optional copies (a secondary region's account, say) have a
	// condition; the one resource asked for is the unconditional one.
	var ds []declared
	for _, d := range ct.ofType(typ) {
		if _, optional := d.res["condition"]; !optional {
			ds = append(ds, d)
		}
	}
	if len(ds) != 1 {
		t.Fatalf("want exactly one unconditional %s, got %d", typ, len(ds))
	}
	return ds[0]
}

// idOf returns the canonical resourceId expression text of a declared top-level resource.
func idOf(d declared) string {
	return fmt.Sprintf("resourceId(%s, %s)", quote(d.typ), strings.Join(d.segs, ", "))
}

// dependsOn reports whether one of d's dependsOn entries refers to target.
func (ct *checkedTemplate) dependsOn(d, target declared) bool {
	deps, _ := d.res["dependsOn"].([]any)
	for _, dep := range deps {
		if s, _ := dep.(string); ct.refersTo(s, target) {
			return true
		}
	}
	return false
}

// refersTo reports whether the template string s is an expression containing a resourceId of d.
func (ct *checkedTemplate) refersTo(s string, d declared) bool {
	e, ok := ct.exprs[s]
	if !ok {
		return false
	}
	found := false
	e.walk(func(x *expr) {
		if x.Func == "resourceId" && x.String() == idOf(d) {
			found = true
		}
	})
	return found
}
