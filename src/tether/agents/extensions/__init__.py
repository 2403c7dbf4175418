"""``agents.extensions``: the reference SDK's optional helpers that tether covers
(``handoff_filters``)."""
