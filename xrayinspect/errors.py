"""The error types every entry point raises for bad input."""


class XrayInspectError(Exception):
    """Base class of every error xrayinspect raises on purpose."""


class FrameReadError(XrayInspectError, ValueError):
    """A frame could not be read or is not a usable X-ray image.

    The message is always one line: ``"<path>: <what is wrong>"``.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


class RecipeError(XrayInspectError, ValueError):
    """A recipe TOML is missing, malformed or holds values out of range.

    The message is one line naming the file, the key and what is wrong.
    """
