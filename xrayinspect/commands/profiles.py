"""``xrayinspect profiles``: list the built-in rule profiles and their limits."""

NAME = "profiles"
HELP = "list the built-in rule profiles (pass/fail limits) usable with score --profile"


def add_arguments(p):
    p.add_argument("profile", nargs="?", default=None, metavar="NAME|FILE",
                   help="show one profile (a built-in name or a profile TOML file)")


def run(args):
    import sys

    from ..errors import RecipeError
    from ..profiles import get_profile, list_profiles

    try:
        names = [args.profile] if args.profile else list_profiles()
        profiles = [get_profile(n) for n in names]
    except RecipeError as e:
        print(f"xrayinspect profiles: {e}", file=sys.stderr)
        return 2
    head = ("name", "version", "ball void %", "largest void %", "pad void %", "offset x r", "description")
    rows = [(p.name, p.version, f"{p.limits.ball_void_pct:g}", f"{p.limits.ball_largest_void_pct:g}",
             f"{p.limits.pad_void_pct:g}", f"{p.limits.offset_frac:g}", p.description) for p in profiles]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0
