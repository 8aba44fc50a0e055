package charttest

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "../newsroom"

// KEDA's objects are custom resources with no type in k8s.io/api: these
// are the fields of keda.sh/v1alpha1 the chart sets, decoded as strictly.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		Triggers        []struct {
			Type              string            `json:"type"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef struct {
				Name string `json:"name"`
			} `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		PodIdentity struct {
			Provider   string `json:"provider"`
			IdentityID string `json:"identityId"`
		} `json:"podIdentity"`
	} `json:"spec"`
}

// objects are the rendered objects, each decoded into its type.
type objects struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	account    *corev1.ServiceAccount
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	policy     *networkingv1.NetworkPolicy
	config     *corev1.ConfigMap
	scaled     *scaledObject
	auth       *triggerAuthentication
	kinds      []string
}

func strict(t *testing.T, doc []byte, v any) {
	t.Helper()
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("not YAML: %v\n%s", err, doc)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("does not decode strictly into %T: %v\n%s", v, err, doc)
	}
}

func render(t *testing.T, values map[string]any) objects {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValues(chrt, values, common.ReleaseOptions{Name: "desk", Namespace: "news", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		t.Fatal(err)
	}
	var o objects
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for doc := range strings.SplitSeq(content, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			o.kinds = append(o.kinds, meta.Kind)
			targets := map[string]any{"Deployment": &o.deployment, "Service": &o.service, "ServiceAccount": &o.account,
				"PodDisruptionBudget": &o.pdb, "HorizontalPodAutoscaler": &o.hpa, "NetworkPolicy": &o.policy,
				"ConfigMap": &o.config, "ScaledObject": &o.scaled, "TriggerAuthentication": &o.auth}
			ptr, ok := targets[meta.Kind]
			if !ok {
				t.Fatalf("%s: an object of kind %q the test does not know", name, meta.Kind)
			}
			switch p := ptr.(type) {
			case **appsv1.Deployment:
				*p = new(appsv1.Deployment)
				strict(t, []byte(doc), *p)
			case **corev1.Service:
				*p = new(corev1.Service)
				strict(t, []byte(doc), *p)
			case **corev1.ServiceAccount:
				*p = new(corev1.ServiceAccount)
				strict(t, []byte(doc), *p)
			case **policyv1.PodDisruptionBudget:
				*p = new(policyv1.PodDisruptionBudget)
				strict(t, []byte(doc), *p)
			case **autoscalingv2.HorizontalPodAutoscaler:
				*p = new(autoscalingv2.HorizontalPodAutoscaler)
				strict(t, []byte(doc), *p)
			case **networkingv1.NetworkPolicy:
				*p = new(networkingv1.NetworkPolicy)
				strict(t, []byte(doc), *p)
			case **corev1.ConfigMap:
				*p = new(corev1.ConfigMap)
				strict(t, []byte(doc), *p)
			case **scaledObject:
				*p = new(scaledObject)
				strict(t, []byte(doc), *p)
			case **triggerAuthentication:
				*p = new(triggerAuthentication)
				strict(t, []byte(doc), *p)
			}
		}
	}
	slices.Sort(o.kinds)
	return o
}

func TestChart_DefaultsRenderAServeDeploymentWithAnHPA(t *testing.T) {
	o := render(t, nil)
	want := []string{"Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"}
	if !slices.Equal(o.kinds, want) {
		t.Fatalf("kinds %v, want %v", o.kinds, want)
	}
	d := o.deployment
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.StartupProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes %v %v", c.LivenessProbe.HTTPGet, c.ReadinessProbe.HTTPGet)
	}
	if c.Ports[0].ContainerPort != 8080 || !slices.Contains(c.Args, "0.0.0.0:8080") || c.Args[0] != "serve" {
		t.Errorf("container args %v ports %v", c.Args, c.Ports)
	}
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || c.SecurityContext.ReadOnlyRootFilesystem == nil ||
		!*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Errorf("security contexts %+v %+v", pod.SecurityContext, c.SecurityContext)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
	if d.Spec.Replicas != nil {
		t.Error("replicas set although the HPA scales the deployment")
	}
	if o.hpa.Spec.ScaleTargetRef.Name != d.Name || *o.hpa.Spec.MinReplicas < 1 {
		t.Errorf("hpa %+v", o.hpa.Spec)
	}
	if o.pdb.Spec.MinAvailable.IntValue() != 1 || o.pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "desk" {
		t.Errorf("pdb %+v", o.pdb.Spec)
	}
	if o.service.Spec.Ports[0].TargetPort.String() != "http" || o.service.Spec.Selector["app.kubernetes.io/name"] != "newsroom" {
		t.Errorf("service %+v", o.service.Spec)
	}
	if len(o.policy.Spec.Ingress) != 1 || o.policy.Spec.Ingress[0].Ports[0].Port.IntValue() != 8080 || len(o.policy.Spec.PolicyTypes) != 2 {
		t.Errorf("network policy %+v", o.policy.Spec)
	}
	// The probes are the binary's routes.
	src, err := os.ReadFile("../../../server/server.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{`"GET /healthz"`, `"GET /readyz"`} {
		if !strings.Contains(string(src), route) {
			t.Errorf("the server has no route %s", route)
		}
	}
}

func TestChart_AQueueIntakeScalesWithKEDAOnTheWorkloadIdentity(t *testing.T) {
	o := render(t, map[string]any{
		"serviceAccount": map[string]any{"workloadIdentityClientId": "11111111-2222-3333-4444-555555555555"},
		"database":       map[string]any{"url": "postgres://newsroom-id@pg.postgres.database.azure.com:5432/newsroom?sslmode=require"},
		"intake": map[string]any{"file": "sources:\n  - name: assignments\n    queue: {account: https://acct.queue.core.windows.net, name: assignments}\n    desk: selector\n",
			"queue": map[string]any{"enabled": true, "accountName": "acct"}},
	})
	want := []string{"ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "ScaledObject", "Service", "ServiceAccount", "TriggerAuthentication"}
	if !slices.Equal(o.kinds, want) {
		t.Fatalf("kinds %v, want %v (no HPA beside KEDA)", o.kinds, want)
	}
	if o.account.Annotations["azure.workload.identity/client-id"] != "11111111-2222-3333-4444-555555555555" ||
		o.deployment.Spec.Template.Labels["azure.workload.identity/use"] != "true" {
		t.Errorf("workload identity: account %v, pod labels %v", o.account.Annotations, o.deployment.Spec.Template.Labels)
	}
	tr := o.scaled.Spec.Triggers[0]
	if tr.Type != "azure-queue" || tr.Metadata["accountName"] != "acct" || tr.Metadata["queueName"] != "assignments" ||
		tr.AuthenticationRef.Name != o.auth.Name || o.auth.Spec.PodIdentity.Provider != "azure-workload" || *o.scaled.Spec.MinReplicaCount < 1 {
		t.Errorf("scaled object %+v, auth %+v", o.scaled.Spec, o.auth.Spec)
	}
	if _, ok := tr.Metadata["connectionFromEnv"]; ok {
		t.Error("the queue scaler uses a connection string")
	}
	env := map[string]string{}
	for _, e := range o.deployment.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["NEWSROOM_INTAKE_FILE"] != "/etc/newsroom/intake.yaml" || env["NEWSROOM_DATABASE_AUTH"] != "entra" || !strings.HasPrefix(env["NEWSROOM_DATABASE_URL"], "postgres://") {
		t.Errorf("env %v", env)
	}
	if !strings.Contains(o.config.Data["intake.yaml"], "name: assignments") {
		t.Errorf("intake config map %v", o.config.Data)
	}
	if slices.Contains(o.deployment.Spec.Template.Spec.Containers[0].Args, "--db") {
		t.Error("an SQLite file beside PostgreSQL")
	}
}

func TestChart_AQueueWithoutAnAccountFails(t *testing.T) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValues(chrt, map[string]any{"intake": map[string]any{"queue": map[string]any{"enabled": true}}},
		common.ReleaseOptions{Name: "desk", Namespace: "news"}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Render(chrt, vals); err == nil || !strings.Contains(err.Error(), "intake.queue.accountName is required") {
		t.Errorf("render = %v", err)
	}
}

// TestValues_EveryKeyIsDocumented: each key of values.yaml has a comment
// on the line above it (or is inside a documented block of resources).
func TestValues_EveryKeyIsDocumented(t *testing.T) {
	b, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	key := regexp.MustCompile(`^(\s*)([A-Za-z.\-/]+):`)
	inResources := false
	for i, l := range lines {
		m := key.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[1] == "" {
			inResources = m[2] == "resources" || m[2] == "ingressNamespaceLabel"
		}
		if inResources && m[1] != "" {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "kubernetes.io/") {
			continue
		}
		if i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
			t.Errorf("values.yaml:%d: %s has no comment above it", i+1, strings.TrimSpace(l))
		}
	}
}
