package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// loginData is the login page.
type loginData struct {
	Name  string
	Next  string // where to go once signed in
	Error string
	CSRF  string // the anonymous form's token (page.CSRF is for signed-in users)
}

// webLoginForm serves GET /login?next=PATH.
func (s *Server) webLoginForm(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, loginData{Next: localPath(r.FormValue("next"), "/")})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	d.CSRF = s.csrfToken(w, r)
	s.render(w, r, status, "login", "layout", s.newPage(w, r, "Sign in", "login", d))
}

// webLogin serves POST /login: it checks the form's CSRF token, then the
// name and password, and on success goes to the form's "next" page.
func (s *Server) webLogin(w http.ResponseWriter, r *http.Request) {
	d := loginData{Name: strings.TrimSpace(r.PostFormValue("name")), Next: localPath(r.PostFormValue("next"), "/")}
	if !s.checkCSRF(r) {
		d.Error = "This form has expired. Please sign in again."
		s.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	err := s.login(w, r, d.Name, r.PostFormValue("password"))
	var tooMany *TooManyLoginsError
	switch {
	case errors.As(err, &tooMany):
		secs := int(math.Ceil(tooMany.After.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.Error = fmt.Sprintf("Too many failed sign-ins. Please wait %s and try again.", time.Duration(secs)*time.Second)
		s.renderLogin(w, r, http.StatusTooManyRequests, d)
		return
	case errors.Is(err, ErrBadLogin):
		d.Error = "Wrong user name or password."
		s.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	case err != nil:
		s.webFail(w, r, fmt.Errorf("signing in: %w", err))
		return
	}
	s.deps.Logger.Info("signed in", "user", d.Name)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// webLogout serves POST /logout: it ends the session (the form carries the
// session's CSRF token, so no other site can sign a user out).
func (s *Server) webLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.currentUser(r); ok {
		if !s.checkCSRF(r) {
			s.webError(w, r, http.StatusForbidden, "missing or wrong CSRF token; reload the page and try again")
			return
		}
		s.logout(w, r)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// registerData is the register page.
type registerData struct {
	Input  ProjectInput
	Errors FieldErrors
	Other  []FieldError // problems with fields the form does not show
	Anon   bool         // nobody is signed in: show a sign-in prompt instead
}

// webRegisterForm serves GET /register: the form, or a sign-in prompt.
func (s *Server) webRegisterForm(w http.ResponseWriter, r *http.Request) {
	_, ok := s.currentUser(r)
	d := registerData{Anon: !ok, Input: ProjectInput{Name: r.FormValue("name"), RepoURL: r.FormValue("repo_url")}}
	s.render(w, r, http.StatusOK, "register", "layout", s.newPage(w, r, "Register a project", "register", d))
}

// webRegister serves POST /register: it registers the project and starts
// its first build, then shows that build. Problems are shown next to their
// fields, with the values kept.
func (s *Server) webRegister(w http.ResponseWriter, r *http.Request) {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	in := ProjectInput{Name: f("name"), RepoURL: f("repo_url"), Branch: f("branch"), Path: f("path"),
		Dockerfile: f("dockerfile"), Context: f("context"), Tag: f("tag"), DependsOn: f("depends_on"), Email: f("email")}
	_, b, err := s.registerProject(r.Context(), in, userOf(r))
	var fes FieldErrors
	switch {
	case errors.As(err, &fes):
		d := registerData{Input: in, Errors: fes}
		for _, fe := range fes {
			if !isFormField(fe.Field) {
				d.Other = append(d.Other, fe)
			}
		}
		s.render(w, r, http.StatusUnprocessableEntity, "register", "layout", s.newPage(w, r, "Register a project", "register", d))
		return
	case err != nil:
		s.webFail(w, r, err)
		return
	}
	http.Redirect(w, r, buildURL(b), http.StatusSeeOther)
}

// isFormField reports whether the register form shows field.
func isFormField(field string) bool {
	switch field {
	case "name", "repo_url", "branch", "path", "dockerfile", "context", "tag", "depends_on", "email":
		return true
	}
	return false
}
