package storeutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// MaxInboxKey bounds an inbox item's source and identity.
const MaxInboxKey = 1000

// PrepareInboxItem returns the row to insert for an intake item (text made
// storable, SeenAt now when zero) and its pending run as JSON (nil unless
// the item is deferred: run nil and item.Pending set).
func PrepareInboxItem(item store.InboxItem, run *store.Run) (store.InboxItem, []byte, error) {
	it := item
	it.Source, it.Item, it.Title, it.RunID = Text(it.Source), Text(it.Item), Text(it.Title), ""
	switch {
	case it.Source == "" || it.Item == "":
		return it, nil, errors.New("inbox item without a source or an identity")
	case len(it.Source) > MaxInboxKey || len(it.Item) > MaxInboxKey:
		return it, nil, fmt.Errorf("inbox item identity longer than %d bytes", MaxInboxKey)
	}
	if it.SeenAt.IsZero() {
		it.SeenAt = Now()
	}
	it.SeenAt = Time(it.SeenAt)
	it.AdmittedAt = time.Time{}
	if run != nil || it.Pending == nil {
		it.Pending = nil
		return it, nil, nil
	}
	b, err := json.Marshal(it.Pending)
	if err != nil {
		return it, nil, fmt.Errorf("encode pending run: %w", err)
	}
	return it, JSON(b), nil
}
