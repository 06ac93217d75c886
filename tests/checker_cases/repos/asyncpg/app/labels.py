# -*- coding: latin-1 -*-
"""Café menu labels, in Latin-1 as the old POS system exports them."""

LABELS = {"cafe": "Café crème"}
