package github

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v62/github"
)

// CheckRun is a completed check run.
type CheckRun struct {
	Name    string
	HeadSHA string
	// Conclusion is success, failure, neutral, cancelled, skipped, timed_out
	// or action_required.
	Conclusion string
	Title      string
	// Summary and Text are Markdown; each is cut to GitHub's limit, with a
	// note that says so.
	Summary     string
	Text        string
	Annotations []Annotation
}

// Annotation marks lines of a file in a check run.
type Annotation struct {
	Path               string
	StartLine, EndLine int
	Level              string // notice, warning or failure
	Title              string
	Message            string
}

const (
	// maxAnnotations is the most annotations GitHub takes in one request.
	maxAnnotations = 50
	// maxOutputBytes is GitHub's limit on a check run's summary and on its text.
	maxOutputBytes = 65535
	// maxCommentBytes is GitHub's limit on a comment, 65536 characters, in
	// bytes, which is never more characters.
	maxCommentBytes = 65536
)

// CreateCheckRun creates a completed check run and returns its ID. GitHub
// takes 50 annotations a request: the first 50 come with the run, the others
// in updates of 50. If an update fails, the error comes with the ID of the
// run, which exists without the annotations that update carried.
func (r *Repo) CreateCheckRun(ctx context.Context, run CheckRun) (int64, error) {
	output := func(annotations []Annotation) *gh.CheckRunOutput {
		o := &gh.CheckRunOutput{
			Title:   gh.String(run.Title),
			Summary: gh.String(clip(run.Summary, maxOutputBytes)),
		}
		if run.Text != "" {
			o.Text = gh.String(clip(run.Text, maxOutputBytes))
		}
		for _, a := range annotations {
			ann := &gh.CheckRunAnnotation{
				Path: gh.String(a.Path), StartLine: gh.Int(a.StartLine), EndLine: gh.Int(a.EndLine),
				AnnotationLevel: gh.String(a.Level), Message: gh.String(a.Message),
			}
			if a.Title != "" {
				ann.Title = gh.String(a.Title)
			}
			o.Annotations = append(o.Annotations, ann)
		}
		return o
	}
	batch, rest := cut(run.Annotations, maxAnnotations)
	created, _, err := r.c.gh.Checks.CreateCheckRun(ctx, r.owner, r.name, gh.CreateCheckRunOptions{
		Name: run.Name, HeadSHA: run.HeadSHA, Status: gh.String("completed"), Conclusion: gh.String(run.Conclusion),
		Output: output(batch),
	})
	if err != nil {
		return 0, fmt.Errorf("create check run %q on %s: %w", run.Name, run.HeadSHA, err)
	}
	id := created.GetID()
	for len(rest) > 0 {
		batch, rest = cut(rest, maxAnnotations)
		// Annotations add up; the output's title and summary are sent again
		// because GitHub requires them.
		_, _, err := r.c.gh.Checks.UpdateCheckRun(ctx, r.owner, r.name, id, gh.UpdateCheckRunOptions{Name: run.Name, Output: output(batch)})
		if err != nil {
			return id, fmt.Errorf("check run %q on %s: add annotations: %w", run.Name, run.HeadSHA, err)
		}
	}
	return id, nil
}

func cut[T any](s []T, n int) (head, tail []T) {
	n = min(n, len(s))
	return s[:n], s[n:]
}

// clip cuts s to at most limit bytes, at a character boundary, and ends it
// with a note that it was cut.
func clip(s string, limit int) string {
	const note = "\n\n---\n**Cut short**: the rest is longer than GitHub shows."
	if len(s) <= limit {
		return s
	}
	n := limit - len(note)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + note
}

// issueComment is a comment as GitHub sends it, with the App it was made
// through, which go-github's IssueComment leaves out.
type issueComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	User struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"user"`
	App *struct {
		ID int64 `json:"id"`
	} `json:"performed_via_github_app"`
}

// sticky is a sticky comment this process wrote: where it is and what it
// says, so that the next update needs no search, and an unchanged one no call.
type sticky struct {
	id     int64
	digest [sha256.Size]byte
}

// StickyComment keeps one comment of the App on a pull request up to date:
// it edits the App's own comment that contains marker (a hidden HTML
// comment, say) to body, or creates it, and returns its ID. A comment by
// anyone else is never edited, even if it quotes the marker.
func (r *Repo) StickyComment(ctx context.Context, number int, marker, body string) (int64, error) {
	return r.sticky(ctx, number, true, marker, body)
}

// StickyPullRequestComment is StickyComment on a pull request as it was read:
// one whose conversation held no comment then holds none of the App's
// written before, so a first report on it creates its comment without
// listing the conversation. Only a comment written since the pull request
// was read could be missed, which is StickyComment's own race between its
// search and its creation.
func (r *Repo) StickyPullRequestComment(ctx context.Context, pr PullRequest, marker, body string) (int64, error) {
	return r.sticky(ctx, pr.Number, pr.Comments != 0, marker, body)
}

// sticky is StickyComment, searching the conversation for the comment only
// if search.
func (r *Repo) sticky(ctx context.Context, number int, search bool, marker, body string) (int64, error) {
	body = clip(body, maxCommentBytes)
	if marker == "" || !strings.Contains(body, marker) {
		return 0, fmt.Errorf("sticky comment: marker %q is not in the body's first %d bytes, so the comment could not be found again", marker, maxCommentBytes)
	}
	key := r.key("sticky", strconv.Itoa(number), marker)
	digest := sha256.Sum256([]byte(body))
	if known, ok := r.c.app.stickies.get(key); ok {
		if known.digest == digest {
			return known.id, nil
		}
		_, _, err := r.c.gh.Issues.EditComment(ctx, r.owner, r.name, known.id, &gh.IssueComment{Body: gh.String(body)})
		if err == nil {
			r.c.app.stickies.add(key, sticky{known.id, digest}, len(key)+64)
			return known.id, nil
		}
		if StatusCode(err) != http.StatusNotFound {
			return 0, fmt.Errorf("edit comment %d on %s#%d: %w", known.id, r, number, err)
		}
		// Deleted since: look for it, or write it again.
	}
	id, err := r.findOrCreate(ctx, number, search, marker, body)
	if err != nil {
		return 0, err
	}
	r.c.app.stickies.add(key, sticky{id, digest}, len(key)+64)
	return id, nil
}

func (r *Repo) findOrCreate(ctx context.Context, number int, search bool, marker, body string) (int64, error) {
	var comments []issueComment
	if search {
		var err error
		if comments, err = r.comments(ctx, number); err != nil {
			return 0, err
		}
	}
	for _, c := range comments {
		if !strings.Contains(c.Body, marker) {
			continue
		}
		own, err := r.own(ctx, c)
		if err != nil {
			return 0, fmt.Errorf("comments of %s#%d: %w", r, number, err)
		}
		if !own {
			continue
		}
		if c.Body == body {
			return c.ID, nil
		}
		if _, _, err := r.c.gh.Issues.EditComment(ctx, r.owner, r.name, c.ID, &gh.IssueComment{Body: gh.String(body)}); err != nil {
			return 0, fmt.Errorf("edit comment %d on %s#%d: %w", c.ID, r, number, err)
		}
		return c.ID, nil
	}
	created, _, err := r.c.gh.Issues.CreateComment(ctx, r.owner, r.name, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return 0, fmt.Errorf("comment on %s#%d: %w", r, number, err)
	}
	return created.GetID(), nil
}

func (r *Repo) comments(ctx context.Context, number int) ([]issueComment, error) {
	list, err := collect(func(o gh.ListOptions) ([]issueComment, *gh.Response, error) {
		u := fmt.Sprintf("repos/%s/%s/issues/%d/comments?per_page=%d&page=%d", r.owner, r.name, number, o.PerPage, max(o.Page, 1))
		req, err := r.c.gh.NewRequest("GET", u, nil)
		if err != nil {
			return nil, nil, err
		}
		var page []issueComment
		resp, err := r.c.gh.Do(ctx, req, &page)
		return page, resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("comments of %s#%d: %w", r, number, err)
	}
	return list, nil
}

// own tells whether the App wrote a comment: GitHub names the App a comment
// was made through, or else shows the App's bot as its author.
func (r *Repo) own(ctx context.Context, c issueComment) (bool, error) {
	if c.App != nil {
		return c.App.ID == r.c.app.id, nil
	}
	if c.User.Type != "Bot" {
		return false, nil
	}
	bot, err := r.c.app.botLogin(ctx)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(c.User.Login, bot), nil
}
