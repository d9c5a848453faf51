package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SessionsPath is the prefix of the tail sessions API.
const SessionsPath = LogsPath + "/tail/sessions"

// CreateSession calls POST /api/v1/logs/tail/sessions.
func (c *Client) CreateSession(ctx context.Context, req SessionRequest) (*Session, error) {
	return send[Session](ctx, c, http.MethodPost, SessionsPath, req)
}

// Sessions calls GET /api/v1/logs/tail/sessions: the sessions of user (all
// users when empty), only the active ones with active.
func (c *Client) Sessions(ctx context.Context, user string, active bool) (*SessionList, error) {
	q := url.Values{}
	if user != "" {
		q.Set("userUuid", user)
	}
	if active {
		q.Set("active", "true")
	}
	return get[SessionList](ctx, c, withQuery(SessionsPath, q))
}

// Session calls GET /api/v1/logs/tail/sessions/{id}.
func (c *Client) Session(ctx context.Context, id string) (*Session, error) {
	return get[Session](ctx, c, SessionsPath+"/"+escape(id))
}

// PatchSession calls PATCH /api/v1/logs/tail/sessions/{id}.
func (c *Client) PatchSession(ctx context.Context, id string, p SessionPatch) (*Session, error) {
	return send[Session](ctx, c, http.MethodPatch, SessionsPath+"/"+escape(id), p)
}

// DeleteSession calls DELETE /api/v1/logs/tail/sessions/{id}, which ends
// the session.
func (c *Client) DeleteSession(ctx context.Context, id string) (*Session, error) {
	return send[Session](ctx, c, http.MethodDelete, SessionsPath+"/"+escape(id), nil)
}

// TailEvent is one event of a tail stream: an entry, or a gap that
// retention left.
type TailEvent struct {
	// ID is the entry's cursor, to resume after it.
	ID string
	// Exactly one of Entry and Gap is set.
	Entry *Entry
	Gap   *Gap
	// Data is the event's JSON as sent.
	Data []byte
}

// TailStream reads the Server-Sent Events of a tail session's stream. Next
// may not be called concurrently; Close must be called.
type TailStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Stream opens GET /api/v1/logs/tail/sessions/{id}/stream; a non-empty
// resume is sent as Last-Event-ID, so that the stream starts after that
// cursor instead of the session's last one.
func (c *Client) Stream(ctx context.Context, id, resume string) (*TailStream, error) {
	req, err := c.request(ctx, http.MethodGet, SessionsPath+"/"+escape(id)+"/stream", nil)
	if err != nil {
		return nil, err
	}
	if resume != "" {
		req.Header.Set("Last-Event-ID", resume)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.open(req)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &TailStream{body: resp.Body, sc: sc}, nil
}

// Next returns the next event, skipping heartbeats. It returns io.EOF when
// the server ends the stream, and the read's error when the connection
// breaks or the stream's context ends.
func (s *TailStream) Next() (TailEvent, error) {
	var kind, id string
	var data []byte
	for s.sc.Scan() {
		line := s.sc.Bytes()
		switch {
		case len(line) == 0:
			if data == nil {
				kind, id = "", ""
				continue
			}
			return decodeEvent(kind, id, data)
		case line[0] == ':':
		default:
			field, value, _ := strings.Cut(string(line), ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				kind = value
			case "id":
				id = value
			case "data":
				data = append(data, value...)
			}
		}
	}
	if err := s.sc.Err(); err != nil {
		return TailEvent{}, err
	}
	return TailEvent{}, io.EOF
}

func decodeEvent(kind, id string, data []byte) (TailEvent, error) {
	ev := TailEvent{ID: id, Data: data}
	switch kind {
	case "":
		ev.Entry = new(Entry)
		if err := json.Unmarshal(data, ev.Entry); err != nil {
			return ev, fmt.Errorf("tail stream: entry: %w", err)
		}
	case "gap":
		ev.Gap = new(Gap)
		if err := json.Unmarshal(data, ev.Gap); err != nil {
			return ev, fmt.Errorf("tail stream: gap: %w", err)
		}
	default:
		return ev, fmt.Errorf("tail stream: unknown event %q", kind)
	}
	return ev, nil
}

// Close ends the stream.
func (s *TailStream) Close() error { return s.body.Close() }
