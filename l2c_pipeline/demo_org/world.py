"""The fixed part of a demo org: regions, teams, users, products, and who carries each planted truth.

Built from the seed alone (not from the lead blocks), so every worker process sees the same
world and the generated org is the same whatever the number of workers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .ids import make_id
from .shapes import SHAPE_RULES

REGIONS = ("North America", "EMEA", "APAC", "LATAM")
REGION_WEIGHTS = (0.40, 0.30, 0.20, 0.10)
# UTC offset in hours of the region's main office: business hours are local hours.
REGION_UTC_OFFSET = {"North America": -5, "EMEA": 1, "APAC": 8, "LATAM": -3}
REGION_TIMEZONE = {
    "North America": "America/New_York",
    "EMEA": "Europe/Paris",
    "APAC": "Asia/Singapore",
    "LATAM": "America/Sao_Paulo",
}
REGION_COUNTRIES = {
    "North America": ("United States", "Canada"),
    "EMEA": ("Germany", "France", "United Kingdom", "Netherlands", "Spain"),
    "APAC": ("Singapore", "Australia", "Japan", "India"),
    "LATAM": ("Brazil", "Mexico", "Chile"),
}
TEAMS = ("Enterprise", "Commercial")

LEAD_SOURCES = (
    "Web",
    "Webinar",
    "Trade Show",
    "Partner Referral",
    "Cold Call",
    "Customer Referral",
)
LEAD_SOURCE_WEIGHTS = (0.30, 0.15, 0.15, 0.15, 0.15, 0.10)
LEAD_SOURCE_CONVERSION = {
    "Web": 0.30,
    "Webinar": 0.26,
    "Trade Show": 0.30,
    "Partner Referral": 0.38,
    "Cold Call": 0.22,
    "Customer Referral": 0.44,
}
INDUSTRIES = ("Manufacturing", "Retail", "Finance", "Healthcare", "Technology", "Energy", "Media")
SEGMENTS = ("Enterprise", "Mid-Market", "SMB")

PRODUCT_FAMILIES = ("Platform", "Analytics", "Integration", "Services", "Support")
FAMILY_WEIGHTS = (0.30, 0.22, 0.18, 0.18, 0.12)
_PRODUCTS = {
    "Platform": (("Platform Core", 24000), ("Platform Plus", 42000), ("Platform Edge", 9000)),
    "Analytics": (
        ("Insight Dashboards", 12000),
        ("Forecast AI", 18000),
        ("Data Lake Add-on", 7000),
    ),
    "Integration": (("Connector Pack", 6000), ("API Gateway", 15000), ("ETL Runtime", 11000)),
    "Services": (("Implementation", 30000), ("Training Days", 4000), ("Health Check", 8000)),
    "Support": (("Premier Support", 10000), ("Success Manager", 16000), ("Extended SLA", 5000)),
}

FIRST_NAMES = [
    "Alex",
    "Dana",
    "Jordan",
    "Sam",
    "Robin",
    "Kim",
    "Lee",
    "Morgan",
    "Casey",
    "Taylor",
    "Jamie",
    "Avery",
    "Riley",
    "Quinn",
    "Drew",
    "Emery",
    "Sasha",
    "Noel",
    "Ari",
    "Remy",
    "Mika",
    "Lou",
    "Toni",
    "Jules",
    "Cam",
    "Eli",
    "Rue",
    "Bo",
    "Sky",
    "Max",
    "Nico",
    "Ren",
    "Yuki",
    "Ines",
    "Omar",
    "Lena",
    "Priya",
    "Chen",
    "Ana",
    "Luis",
    "Marta",
    "Jonas",
    "Femi",
    "Aisha",
    "Tomas",
    "Sofia",
    "Hugo",
    "Nora",
    "Ivan",
    "Leila",
    "Kofi",
    "Mei",
    "Raul",
    "Zoe",
]
LAST_NAMES = [
    "Ruiz",
    "Chen",
    "Patel",
    "Novak",
    "Garcia",
    "Müller",
    "Okafor",
    "Tanaka",
    "Silva",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Larsen",
    "Moreau",
    "Nguyen",
    "Costa",
    "Fischer",
    "Ibrahim",
    "Sato",
    "Romero",
    "Kim",
    "Ortiz",
    "Brandt",
    "Mensah",
    "Varga",
    "Lindqvist",
    "Reyes",
    "Kaur",
    "Petrov",
    "Bauer",
    "Suzuki",
    "Farah",
    "Wójcik",
    "Almeida",
    "Schmidt",
    "Diaz",
    "Keller",
    "Ito",
    "Mendes",
    "Park",
    "Hansen",
]

# Ids of the world's records live in block number 0; lead blocks start at 1.
_WORLD_NUMBER_BASE = 1


@dataclass(frozen=True)
class Rep:
    id: str
    name: str
    region: str
    team: str
    manager_id: str


@dataclass
class World:
    seed: int
    roles: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    reps_by_team: dict[tuple[str, str], list[Rep]] = field(default_factory=dict)
    reps: dict[str, Rep] = field(default_factory=dict)
    billing_user_id: str = ""
    integration_user_id: str = ""
    process_definition_id: str = ""
    products_by_family: dict[str, list[dict]] = field(default_factory=dict)
    # Planted truths: who carries them, chosen by the seed.
    slow_approval_rep: Rep | None = None
    low_win_rate_rep: Rep | None = None
    approval_skipping_rep: Rep | None = None
    low_conversion_source: str = ""
    quote_rework_family: str = ""
    order_rework_family: str = ""
    quote_accept_skipping_region: str = ""
    stage_regression_region: str = ""
    negotiation_stall_team: tuple[str, str] = ("", "")
    loss_reason_family: str = ""

    def rep_team_name(self, rep: Rep) -> str:
        return f"{rep.region} {rep.team}"


def reps_per_team(leads: int) -> int:
    """Team size grows with the org, so reps carry a realistic number of deals."""
    return max(2, min(80, leads // 12000))


def build_world(seed: int, leads: int, created_at: int, shape: str = "custom") -> World:
    rules = SHAPE_RULES[shape]
    rng = random.Random(f"{seed}:world")
    world = World(seed=seed)
    numbers: dict[str, int] = {}

    def new_id(prefix: str) -> str:
        numbers[prefix] = numbers.get(prefix, _WORLD_NUMBER_BASE) + 1
        return make_id(prefix, numbers[prefix])

    def audit(user_id: str) -> dict:
        return {
            "IsDeleted": False,
            "CreatedDate": created_at,
            "CreatedById": user_id,
            "LastModifiedDate": created_at,
            "LastModifiedById": user_id,
            "SystemModstamp": created_at,
        }

    used_names: set[str] = set()

    def person() -> tuple[str, str]:
        while True:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if f"{first} {last}" not in used_names:
                used_names.add(f"{first} {last}")
                return first, last

    admin_id = new_id("005")
    world.integration_user_id = admin_id

    def add_user(
        user_id: str,
        first: str,
        last: str,
        title: str,
        department: str,
        division: str,
        role_id: str | None,
        manager_id: str | None,
        timezone: str,
    ) -> dict:
        username = f"{first}.{last}".lower().replace(" ", "") + f"@l2c-demo-{seed}.example"
        user = {
            "Id": user_id,
            **audit(admin_id),
            "Username": username,
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Email": username,
            "Title": title,
            "Department": department,
            "Division": division,
            "UserRoleId": role_id,
            "ManagerId": manager_id,
            "IsActive": True,
            "TimeZoneSidKey": timezone,
        }
        world.users.append(user)
        return user

    add_user(admin_id, "Integration", "User", "Integration", "IT", "", None, None, "GMT")

    def add_role(name: str, parent: dict | None) -> dict:
        role = {
            "Id": new_id("00E"),
            "Name": name,
            "DeveloperName": name.replace(" ", "_"),
            "ParentRoleId": parent["Id"] if parent else None,
            "LastModifiedDate": created_at,
            "LastModifiedById": admin_id,
            "SystemModstamp": created_at,
        }
        world.roles.append(role)
        return role

    head_role = add_role("VP Sales", None)
    billing_role = add_role("Billing", None)
    world.billing_user_id = new_id("005")
    add_user(
        world.billing_user_id,
        "Billing",
        "Automation",
        "Billing Automation",
        "Finance",
        "",
        billing_role["Id"],
        None,
        "GMT",
    )

    per_team = reps_per_team(leads)
    for region in REGIONS:
        region_role = add_role(f"{region}{rules.region_role_suffix}", head_role)
        # An org that keeps the region in the user's Division, or only in the role hierarchy.
        division = region if rules.users_have_division else ""

        for team in TEAMS:
            team_role = add_role(f"{region} {team}", region_role)
            first, last = person()
            manager = add_user(
                new_id("005"),
                first,
                last,
                "Sales Manager",
                team,
                division,
                team_role["Id"],
                None,
                REGION_TIMEZONE[region],
            )
            team_reps = []
            for _ in range(per_team):
                first, last = person()
                user = add_user(
                    new_id("005"),
                    first,
                    last,
                    "Account Executive",
                    team,
                    division,
                    team_role["Id"],
                    manager["Id"],
                    REGION_TIMEZONE[region],
                )
                rep = Rep(user["Id"], user["Name"], region, team, manager["Id"])
                team_reps.append(rep)
                world.reps[rep.id] = rep
            world.reps_by_team[(region, team)] = team_reps

    for family in PRODUCT_FAMILIES:
        world.products_by_family[family] = []
        for index, (name, price) in enumerate(_PRODUCTS[family]):
            product = {
                "Id": new_id("01t"),
                **audit(admin_id),
                "Name": name,
                "ProductCode": f"{family[:3].upper()}-{index + 1:03d}",
                "Family": family,
                "IsActive": True,
                "_price": price,
            }
            world.products.append(product)
            world.products_by_family[family].append(product)

    world.process_definition_id = new_id("04a")

    # Planted truths: distinct reps, and a region / family per truth, all from the seed.
    # Carriers come from the busy teams, so each one owns enough deals for its effect to show.
    busy_teams = [(region, "Commercial") for region in REGIONS[:3]] + [
        ("North America", "Enterprise")
    ]
    candidates = sorted(
        (r for team in busy_teams for r in world.reps_by_team[team]), key=lambda r: r.id
    )
    slow, low_win, skipper = rng.sample(candidates, 3)
    world.slow_approval_rep, world.low_win_rate_rep, world.approval_skipping_rep = (
        slow,
        low_win,
        skipper,
    )
    world.low_conversion_source = rng.choice(LEAD_SOURCES[:5])
    world.quote_rework_family, world.order_rework_family = rng.sample(PRODUCT_FAMILIES[:4], 2)
    world.quote_accept_skipping_region, world.stage_regression_region = rng.sample(REGIONS[:3], 2)
    world.negotiation_stall_team = rng.choice(busy_teams)
    world.loss_reason_family = rng.choice(PRODUCT_FAMILIES)
    return world
