package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
)

// Azure Event Grid delivers to a webhook in one of two schemas: its own
// (a JSON array of events, the aeg-event-type header saying
// SubscriptionValidation or Notification, a validation event's
// validationCode echoed back as validationResponse), or CloudEvents 1.0
// (application/cloudevents+json, or -batch+json for an array, with an
// OPTIONS handshake: WebHook-Request-Origin answered by
// WebHook-Allowed-Origin).

// Event Grid headers and event types.
const (
	EventTypeHeader       = "aeg-event-type"
	ValidationEventType   = "Microsoft.EventGrid.SubscriptionValidationEvent"
	ValidationHeaderValue = "SubscriptionValidation"
	RequestOriginHeader   = "WebHook-Request-Origin"
	AllowedOriginHeader   = "WebHook-Allowed-Origin"
	AllowedRateHeader     = "WebHook-Allowed-Rate"
)

// GridEvent is an event in the Event Grid schema.
type GridEvent struct {
	ID              string          `json:"id"`
	Topic           string          `json:"topic"`
	Subject         string          `json:"subject"`
	EventType       string          `json:"eventType"`
	EventTime       time.Time       `json:"eventTime"`
	Data            json.RawMessage `json:"data"`
	DataVersion     string          `json:"dataVersion"`
	MetadataVersion string          `json:"metadataVersion"`
}

// CloudEvent is a CloudEvents 1.0 event in its JSON format.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	DataBase64      []byte          `json:"data_base64"`
}

// ErrNotEvents is returned for a body in neither event schema.
var ErrNotEvents = errors.New("intake: not Event Grid or CloudEvents events")

// ParseGridEvents reads an Event Grid schema delivery (an array of events).
func ParseGridEvents(body []byte) ([]GridEvent, error) {
	var evs []GridEvent
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotEvents, err)
	}
	for i, e := range evs {
		if e.ID == "" || e.EventType == "" {
			return nil, fmt.Errorf("%w: event %d has no id or eventType", ErrNotEvents, i)
		}
	}
	return evs, nil
}

// ValidationCode returns the validationCode of a SubscriptionValidation event.
func (e GridEvent) ValidationCode() (string, bool) {
	if e.EventType != ValidationEventType {
		return "", false
	}
	var d struct {
		ValidationCode string `json:"validationCode"`
	}
	if json.Unmarshal(e.Data, &d) != nil || d.ValidationCode == "" {
		return "", false
	}
	return d.ValidationCode, true
}

// Item is the event as an intake item: identity "eventgrid:<id>".
func (e GridEvent) Item() Item {
	return eventItem("eventgrid:"+e.ID, e.EventType, e.Subject, e.EventTime, e.Data)
}

// IsCloudEvents reports whether a Content-Type is a CloudEvents JSON format.
func IsCloudEvents(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/cloudevents+json" || mt == "application/cloudevents-batch+json"
}

// ParseCloudEvents reads a CloudEvents delivery in structured mode: one
// event (application/cloudevents+json) or a batch (-batch+json).
func ParseCloudEvents(contentType string, body []byte) ([]CloudEvent, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	var evs []CloudEvent
	var err error
	if mt == "application/cloudevents-batch+json" {
		err = json.Unmarshal(body, &evs)
	} else {
		var e CloudEvent
		err = json.Unmarshal(body, &e)
		evs = []CloudEvent{e}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotEvents, err)
	}
	for i, e := range evs {
		if e.SpecVersion != "1.0" || e.ID == "" || e.Source == "" || e.Type == "" {
			return nil, fmt.Errorf("%w: event %d lacks specversion 1.0, id, source or type", ErrNotEvents, i)
		}
	}
	return evs, nil
}

// Item is the event as an intake item: identity "cloudevents:<source>/<id>"
// (an id is unique within its source).
func (e CloudEvent) Item() Item {
	data := e.Data
	if len(data) == 0 && len(e.DataBase64) > 0 {
		b, _ := json.Marshal(string(e.DataBase64))
		data = b
	}
	return eventItem("cloudevents:"+e.Source+"/"+e.ID, e.Type, e.Subject, e.Time, data)
}

// eventItem turns an event's data into an item: an assignment when the
// data is one, else its text (a JSON string's value, or the JSON itself),
// titled by the event's type and subject.
func eventItem(id, typ, subject string, at time.Time, data json.RawMessage) Item {
	if it, err := ParseMessage(id, data); err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		it.ID = id // an event's own id, not one inside its data
		if it.Published.IsZero() {
			it.Published = at
		}
		return it
	}
	body := string(data)
	var s string
	if json.Unmarshal(data, &s) == nil {
		body = s
	}
	var link struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(data, &link)
	return Item{ID: id, Title: strings.TrimSpace(typ + " " + subject), Published: at, Body: body, Link: link.URL}
}
