"""QFN / bottom-terminated components (placeholder until the QFN scorer lands)."""


def looks_like_qfn(prep):
    return False


def score_qfn(prep, *, recipe, limits, pixel_size_um=None):
    raise NotImplementedError("QFN scoring is not built yet")
