package functions_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/deploy/internal/armtest"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestHost_RunsTheCustomHandler: host.json starts `newsroom functions`,
// whose routes are the function folders.
func TestHost_RunsTheCustomHandler(t *testing.T) {
	var host map[string]any
	readJSON(t, "host.json", &host)
	if armtest.Get(host, "version") != "2.0" || armtest.Get(host, "extensionBundle.id") != "Microsoft.Azure.Functions.ExtensionBundle" {
		t.Errorf("host.json version/bundle: %v", host)
	}
	if armtest.Get(host, "customHandler.description.defaultExecutablePath") != "newsroom" ||
		armtest.Get(host, "customHandler.description.arguments.0") != "functions" ||
		armtest.Get(host, "customHandler.enableForwardingHttpRequest") != false {
		t.Errorf("customHandler = %v", host["customHandler"])
	}
	// The queue's messages are the assignments as sent, not base64.
	if armtest.Get(host, "extensions.queues.messageEncoding") != "none" {
		t.Errorf("queues.messageEncoding = %v, want none", armtest.Get(host, "extensions.queues.messageEncoding"))
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "cmd", "newsroom", "functions.go"))
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`(\w+Function)\s*=\s*"([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	dirs, _ := filepath.Glob("*/function.json")
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Dir(d))
	}
	var handled []string
	for _, r := range routes {
		handled = append(handled, r[2])
	}
	slices.Sort(names)
	slices.Sort(handled)
	if !slices.Equal(names, handled) || len(names) != 2 {
		t.Errorf("functions %v, the handler serves %v", names, handled)
	}
}

type binding struct {
	Name, Type, Direction, Schedule, QueueName, Connection string
}

func TestFunctions_TheTimerAndTheQueueTrigger(t *testing.T) {
	var timer, queue struct{ Bindings []binding }
	readJSON(t, "poll-feeds/function.json", &timer)
	readJSON(t, "assignment/function.json", &queue)
	if len(timer.Bindings) != 1 || timer.Bindings[0].Type != "timerTrigger" || timer.Bindings[0].Schedule == "" {
		t.Errorf("poll-feeds = %+v", timer.Bindings)
	}
	// The handler reads Data.message and the trigger's Metadata.Id.
	if len(queue.Bindings) != 1 || queue.Bindings[0].Type != "queueTrigger" || queue.Bindings[0].Name != "message" ||
		queue.Bindings[0].Direction != "in" || queue.Bindings[0].Connection != "IntakeQueue" {
		t.Errorf("assignment = %+v", queue.Bindings)
	}
	// Every %SETTING% of the bindings and the identity-based connection
	// are app settings of the template.
	tm := armtest.Load(t, "functionapp.json")
	settings := armtest.Settings(armtest.Get(tm.One(t, "Microsoft.Web/sites"), "properties.siteConfig.appSettings"))
	for _, b := range []binding{timer.Bindings[0], queue.Bindings[0]} {
		for _, m := range regexp.MustCompile(`%(\w+)%`).FindAllStringSubmatch(b.Schedule+b.QueueName, -1) {
			if _, ok := settings[m[1]]; !ok {
				t.Errorf("binding %s names %%%s%%, not an app setting", b.Name, m[1])
			}
		}
	}
	for _, s := range []string{"IntakeQueue__queueServiceUri", "IntakeQueue__credential", "IntakeQueue__clientId"} {
		if _, ok := settings[s]; !ok {
			t.Errorf("app setting %s missing: the queue trigger signs in with the identity", s)
		}
	}
}

func TestTemplate_FlexConsumptionWithAManagedIdentity(t *testing.T) {
	tm := armtest.Load(t, "functionapp.json")
	armtest.CheckReferences(t, tm)
	plan := tm.One(t, "Microsoft.Web/serverfarms")
	if armtest.Get(plan, "sku.name") != "FC1" || armtest.Get(plan, "sku.tier") != "FlexConsumption" || armtest.Get(plan, "properties.reserved") != true {
		t.Errorf("plan sku %v", plan["sku"])
	}
	site := tm.One(t, "Microsoft.Web/sites")
	ids, _ := armtest.Get(site, "identity.userAssignedIdentities").(map[string]any)
	if _, ok := ids["[parameters('identityResourceId')]"]; site["kind"] != "functionapp,linux" || armtest.Get(site, "identity.type") != "UserAssigned" || !ok {
		t.Errorf("site kind %v identity %v", site["kind"], site["identity"])
	}
	cfg := "properties.functionAppConfig."
	if armtest.Get(site, cfg+"runtime.name") != "custom" || armtest.Get(site, cfg+"deployment.storage.authentication.type") != "UserAssignedIdentity" ||
		armtest.Get(site, cfg+"deployment.storage.type") != "blobContainer" {
		t.Errorf("functionAppConfig = %v", armtest.Get(site, "properties.functionAppConfig"))
	}
	settings := armtest.Settings(armtest.Get(site, "properties.siteConfig.appSettings"))
	if settings["AzureWebJobsStorage__credential"] != "managedidentity" || settings["NEWSROOM_DATABASE_AUTH"] != "entra" ||
		!strings.HasPrefix(settings["NEWSROOM_DATABASE_URL"].(string), "[format('postgres://") {
		t.Errorf("settings = %v", settings)
	}
	if strings.Contains(tm.Raw, "AccountKey") || strings.Contains(tm.Raw, "listKeys(") {
		t.Error("the template uses a storage key; the identity signs in")
	}
	storage := tm.One(t, "Microsoft.Storage/storageAccounts")
	if armtest.Get(storage, "properties.allowSharedKeyAccess") != false {
		t.Error("the storage account allows shared keys")
	}
	roles := map[string]bool{}
	for _, r := range tm.OfType("Microsoft.Authorization/roleAssignments") {
		id, _ := armtest.Get(r, "properties.roleDefinitionId").(string)
		if m := regexp.MustCompile(`'([0-9a-f-]{36})'\)\]$`).FindStringSubmatch(id); m != nil {
			roles[m[1]] = true
		}
	}
	for name, id := range map[string]string{"Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
		"Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed"} {
		if !roles[id] {
			t.Errorf("the identity is not granted %s (%s); granted %v", name, id, roles)
		}
	}
	if len(tm.OfType("Microsoft.Storage/storageAccounts/queueServices/queues")) != 2 {
		t.Error("want the intake queue and its -poison queue")
	}
}
