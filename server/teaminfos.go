package server

// TeamInfos lists the desks the service runs, as GET /v1/teams does (for
// the protocol adapters' descriptions: the A2A agent card's skills).
func (s *Server) TeamInfos() []TeamInfo { return s.teamInfos() }
