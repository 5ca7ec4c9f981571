package bitscale

import (
	"context"
	"net/http"
	"time"
)

// User is the account the API key belongs to.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	AvatarURL string    `json:"avatar_url"`
	CreatedAt time.Time `json:"created_at"`
	Plan      string    `json:"plan"`
}

// Me returns the user the client's API key belongs to (GET /user/me).
// It needs no workspace.
func (s *UsersService) Me(ctx context.Context) (*User, *Response, error) {
	return send[User](ctx, s.client, http.MethodGet, "user/me", nil)
}
