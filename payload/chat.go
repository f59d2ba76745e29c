package payload

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
)

// Lengths the chat formats keep, in characters: within every service's
// limit (Discord's 2000 for a whole message is the smallest) with title,
// text, link and details together.
const (
	maxTitle   = 200
	maxText    = 1000
	maxLink    = 500
	maxDetails = 800
)

// Where a chat message's parts are read from in the event's data: the
// first of these fields holding a non-empty string. Valohai's payloads
// (title, body, url) and GitHub's (html_url) read as they are.
var (
	titleFields = []string{"title", "subject", "summary"}
	textFields  = []string{"body", "message", "text", "description"}
	linkFields  = []string{"url", "link", "html_url"}
)

// message is an event as a chat message shows it.
type message struct {
	// title is the data's title, else the event type.
	title string
	// text is the data's message, "" when none.
	text string
	// link is an absolute http(s) URL from the data, "" when none (a
	// relative URL has nowhere to point in a chat).
	link string
	// details is the data as sent, shortened, when it has neither title
	// nor text: the message still says what happened.
	details string
	typ, id string
}

func messageOf(e *event.Event, env *rules.Env) message {
	m := message{typ: e.Type, id: e.ID}
	data, _ := env.LoadData().(map[string]any)
	m.title = clip(firstString(data, titleFields), maxTitle)
	m.text = clip(firstString(data, textFields), maxText)
	for _, f := range linkFields {
		if s, _ := data[f].(string); isLink(s) {
			m.link = s
			break
		}
	}
	if m.title == "" && m.text == "" {
		var buf bytes.Buffer
		if json.Compact(&buf, e.Data) != nil {
			buf.Reset()
			buf.Write(e.Data)
		}
		m.details = clip(buf.String(), maxDetails)
	}
	if m.title == "" {
		m.title = clip(e.Type, maxTitle)
	}
	return m
}

func firstString(data map[string]any, fields []string) string {
	for _, f := range fields {
		if s, _ := data[f].(string); strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// isLink accepts an absolute http or https URL that no chat syntax can
// misread.
func isLink(s string) bool {
	if s == "" || len(s) > maxLink || strings.ContainsAny(s, "<>|() \t\r\n\"") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// clip shortens s to at most n characters, ending with "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// encode writes v as JSON without escaping <, > and & (the chat services
// read them as written).
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// slackEscaper escapes Slack's control characters, so event data can
// neither mention (<!channel>) nor link.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slack renders a Slack incoming-webhook message in mrkdwn: the title in
// bold, the text, the link, or the data in a code block when there is no
// text.
func slack(m message) []byte {
	lines := []string{"*" + slackEscaper.Replace(m.title) + "*"}
	if m.text != "" {
		lines = append(lines, slackEscaper.Replace(m.text))
	}
	if m.details != "" {
		lines = append(lines, "```"+slackEscaper.Replace(m.details)+"```")
	}
	if m.link != "" {
		lines = append(lines, "<"+slackEscaper.Replace(m.link)+">")
	}
	return encode(struct {
		Text string `json:"text"`
	}{strings.Join(lines, "\n")})
}

// discord renders a Discord webhook message in Discord's markdown. No
// mention in event data pings anyone: allowed_mentions parses none.
func discord(m message) []byte {
	lines := []string{"**" + m.title + "**"}
	if m.text != "" {
		lines = append(lines, m.text)
	}
	if m.details != "" {
		lines = append(lines, "```json\n"+m.details+"\n```")
	}
	if m.link != "" {
		lines = append(lines, m.link)
	}
	type mentions struct {
		Parse []string `json:"parse"`
	}
	return encode(struct {
		Content         string   `json:"content"`
		AllowedMentions mentions `json:"allowed_mentions"`
	}{strings.Join(lines, "\n"), mentions{Parse: []string{}}})
}

// Adaptive Card elements of the teams format.
type (
	cardElement struct {
		Type     string     `json:"type"`
		Text     string     `json:"text,omitempty"`
		Weight   string     `json:"weight,omitempty"`
		Size     string     `json:"size,omitempty"`
		FontType string     `json:"fontType,omitempty"`
		Wrap     bool       `json:"wrap,omitempty"`
		Facts    []cardFact `json:"facts,omitempty"`
	}
	cardFact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	cardAction struct {
		Type  string `json:"type"`
		Title string `json:"title"`
		URL   string `json:"url"`
	}
	card struct {
		Schema  string        `json:"$schema"`
		Type    string        `json:"type"`
		Version string        `json:"version"`
		Body    []cardElement `json:"body"`
		Actions []cardAction  `json:"actions,omitempty"`
	}
	cardAttachment struct {
		ContentType string  `json:"contentType"`
		ContentURL  *string `json:"contentUrl"`
		Content     card    `json:"content"`
	}
)

// teams renders a Microsoft Teams Workflows message: one Adaptive Card
// (version 1.4, which Teams renders everywhere) with the title, the text
// or the data, the event's type and id, and an Open button for the link.
func teams(m message) []byte {
	c := card{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		Body: []cardElement{{Type: "TextBlock", Text: m.title, Weight: "Bolder", Size: "Medium", Wrap: true}}}
	if m.text != "" {
		c.Body = append(c.Body, cardElement{Type: "TextBlock", Text: m.text, Wrap: true})
	}
	if m.details != "" {
		c.Body = append(c.Body, cardElement{Type: "TextBlock", Text: m.details, FontType: "Monospace", Wrap: true})
	}
	c.Body = append(c.Body, cardElement{Type: "FactSet", Facts: []cardFact{{Title: "Event", Value: m.typ}, {Title: "ID", Value: m.id}}})
	if m.link != "" {
		c.Actions = []cardAction{{Type: "Action.OpenUrl", Title: "Open", URL: m.link}}
	}
	return encode(struct {
		Type        string           `json:"type"`
		Attachments []cardAttachment `json:"attachments"`
	}{"message", []cardAttachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: c}}})
}
