package intake_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
)

func TestVerify_AcceptsASignedDeliveryAndRefusesTamperingAndReplays(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"title":"Ferry strike"}`)
	at := time.Unix(1_800_000_000, 0)
	sig := intake.Sign(secret, at, body)
	if !strings.HasPrefix(sig, "t=1800000000,v1=") || len(sig) != len("t=1800000000,v1=")+64 {
		t.Fatalf("signature %q", sig)
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"signed", secret, sig, body, at.Add(time.Minute), nil},
		{"a rotated secret's signature beside", secret, sig + ",v1=" + strings.Repeat("0", 64), body, at, nil},
		{"body changed", secret, sig, []byte(`{"title":"Ferry strike!"}`), at, intake.ErrBadSignature},
		{"other secret", []byte("other"), sig, body, at, intake.ErrBadSignature},
		{"replayed later", secret, sig, body, at.Add(6 * time.Minute), intake.ErrStale},
		{"from the future", secret, sig, body, at.Add(-6 * time.Minute), intake.ErrStale},
		{"no header", secret, "", body, at, intake.ErrNoSignature},
		{"garbled", secret, "v1=abc", body, at, intake.ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := intake.Verify(c.secret, c.header, c.body, c.now, 5*time.Minute)
			if !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseMessage_AssignmentOrPlainText(t *testing.T) {
	it, err := intake.ParseMessage("m1", []byte(`{"task":"Write up the council vote","desk":"selector","sources":["https://council.example/v"]}`))
	if err != nil || it.ID != "m1" || it.Task != "Write up the council vote" || it.Desk != "selector" || len(it.Sources) != 1 {
		t.Errorf("assignment = %+v, %v", it, err)
	}
	src := &intake.Source{Name: "q", Desk: "roundrobin", Task: "ignored {{.Title}}"}
	if task, err := src.Render(it); err != nil || task != "Write up the council vote" {
		t.Errorf("an assignment's task rendered as %q, %v", task, err)
	}
	it, err = intake.ParseMessage("m2", []byte("Cover the harbour board meeting at 10:00"))
	if err != nil || it.Body != "Cover the harbour board meeting at 10:00" {
		t.Errorf("plain text = %+v, %v", it, err)
	}
	if _, err := intake.ParseMessage("m3", []byte(`{"tsak":"typo"}`)); err == nil {
		t.Error("an assignment with an unknown field was accepted")
	}
	if _, err := intake.ParseMessage("m4", []byte("  ")); err == nil {
		t.Error("an empty message was accepted")
	}
}

// The payloads are those of Azure Event Grid's documentation: a
// subscription validation event and a Blob Storage event in the Event Grid
// schema, and a CloudEvents 1.0 event.
const validationEvent = `[{
  "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
  "topic": "/subscriptions/xx/resourceGroups/xx/providers/Microsoft.Storage/storageAccounts/xx",
  "subject": "",
  "data": {
    "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
    "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/validate?id=0000&t=2022-10-28T04:23:35.1981776Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"
  },
  "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
  "eventTime": "2022-10-28T04:23:35.1981776Z",
  "metadataVersion": "1",
  "dataVersion": "1"
}]`

const blobEvent = `[{
  "topic": "/subscriptions/xx/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/my-storage-account",
  "subject": "/blobServices/default/containers/press/blobs/release.txt",
  "eventType": "Microsoft.Storage.BlobCreated",
  "eventTime": "2017-06-26T18:41:00.9584103Z",
  "id": "831e1650-001e-001b-66ab-eeb76e069631",
  "data": {
    "api": "PutBlockList",
    "contentType": "text/plain",
    "contentLength": 524288,
    "blobType": "BlockBlob",
    "url": "https://my-storage-account.blob.core.windows.net/press/release.txt",
    "sequencer": "00000000000004420000000000028963"
  },
  "dataVersion": "",
  "metadataVersion": "1"
}]`

const cloudEvent = `{
  "specversion": "1.0",
  "type": "Microsoft.Storage.BlobCreated",
  "source": "/subscriptions/xx/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/my-storage-account",
  "id": "9aeb0fdf-c01e-0131-0922-9eb54906e209",
  "time": "2019-11-18T15:13:39.4589254Z",
  "subject": "blobServices/default/containers/press/blobs/release.txt",
  "data": {"api": "PutBlockList", "url": "https://my-storage-account.blob.core.windows.net/press/release.txt"}
}`

func TestEventGrid_ParsesTheDocumentedPayloads(t *testing.T) {
	evs, err := intake.ParseGridEvents([]byte(validationEvent))
	if err != nil || len(evs) != 1 {
		t.Fatalf("validation event: %v", err)
	}
	if code, ok := evs[0].ValidationCode(); !ok || code != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Errorf("validation code %q, %v", code, ok)
	}
	evs, err = intake.ParseGridEvents([]byte(blobEvent))
	if err != nil || len(evs) != 1 {
		t.Fatalf("blob event: %v", err)
	}
	if _, ok := evs[0].ValidationCode(); ok {
		t.Error("a blob event read as a validation")
	}
	it := evs[0].Item()
	if it.ID != "eventgrid:831e1650-001e-001b-66ab-eeb76e069631" || it.Link != "https://my-storage-account.blob.core.windows.net/press/release.txt" ||
		!strings.HasPrefix(it.Title, "Microsoft.Storage.BlobCreated /blobServices") {
		t.Errorf("blob item = %+v", it)
	}
	if !intake.IsCloudEvents("application/cloudevents+json; charset=utf-8") || intake.IsCloudEvents("application/json") {
		t.Error("IsCloudEvents")
	}
	ces, err := intake.ParseCloudEvents("application/cloudevents+json", []byte(cloudEvent))
	if err != nil || len(ces) != 1 {
		t.Fatalf("cloud event: %v", err)
	}
	if it := ces[0].Item(); !strings.HasSuffix(it.ID, "/9aeb0fdf-c01e-0131-0922-9eb54906e209") || it.Link == "" {
		t.Errorf("cloud event item = %+v", it)
	}
	if _, err := intake.ParseCloudEvents("application/cloudevents-batch+json", []byte("["+cloudEvent+"]")); err != nil {
		t.Errorf("batch: %v", err)
	}
	if _, err := intake.ParseCloudEvents("application/cloudevents+json", []byte(`{"specversion":"0.3","id":"x","source":"s","type":"t"}`)); err == nil {
		t.Error("a CloudEvents 0.3 event was accepted")
	}
}
