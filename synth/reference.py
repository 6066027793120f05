"""Reference lists used by the synthetic county generator (names, places, staff, services)."""

from __future__ import annotations

MALE_FORENAMES: tuple[str, ...] = (
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad", "Oscar", "Charlie",
    "Jacob", "Thomas", "Henry", "William", "Alfie", "Theo", "Freddie", "Archie", "Joshua", "James",
    "Alexander", "Isaac", "Edward", "Samuel", "Joseph", "Lucas", "Max", "Ethan", "Daniel", "Dylan",
    "Finley", "Reuben", "Sebastian", "Tommy", "Benjamin", "Callum", "Connor", "Ryan", "Liam", "Jamie",
    "Matthew", "Andrew", "David", "Michael", "Christopher", "Mark", "Paul", "Stephen", "Richard", "Robert",
    "Peter", "John", "Anthony", "Kevin", "Gareth", "Dafydd", "Rhys", "Ieuan", "Cian", "Nathan",
    "Jonathan", "Nicholas", "Zachary", "Jenson", "Rory", "Imran", "Ali", "Mateusz", "Michał", "Paweł",
    "Tomasz", "Piotr", "Kacper", "Raymond", "Simon", "Craig", "Lee", "Darren", "Wayne", "Gary",
    "Ian", "Colin", "Keith", "Brian", "Elliot", "Mason", "Harvey", "Jake", "Luke", "Adam",
)
FEMALE_FORENAMES: tuple[str, ...] = (
    "Olivia", "Amelia", "Isla", "Ava", "Lily", "Freya", "Ivy", "Florence", "Isabella", "Mia",
    "Sophia", "Grace", "Evie", "Ella", "Poppy", "Willow", "Rosie", "Sienna", "Maisie", "Ruby",
    "Emily", "Jessica", "Charlotte", "Sophie", "Chloe", "Lauren", "Hannah", "Megan", "Katie", "Emma",
    "Sarah", "Rachel", "Rebecca", "Laura", "Gemma", "Amy", "Kelly", "Claire", "Nicola", "Lisa",
    "Victoria", "Samantha", "Elizabeth", "Katherine", "Jennifer", "Deborah", "Christine", "Susan",
    "Karen", "Helen", "Joanne", "Stacey", "Leanne", "Jacqueline", "Fiona", "Carys", "Ffion", "Niamh",
    "Aoife", "Siobhán", "Zoë", "Chloë", "Ciara", "Aisha", "Zara", "Nadia", "Fatima", "Zofia",
    "Joanna", "Małgorzata", "Monika", "Agnieszka", "Willow", "Matilda", "Abigail", "Holly", "Erin",
    "Harriet", "Eleanor", "Phoebe", "Daisy", "Elsie", "Esme", "Alice", "Lucy", "Molly", "Tilly",
)
SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
    "Lewis", "Harris", "Clarke", "Clark", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan",
    "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young",
    "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw",
    "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams",
    "Wilkinson", "Webb", "Dutton", "Leadbetter", "Shufflebotham", "Cheshire", "Whitfield", "Pritchard",
    "Vaughan", "Hunt", "Doyle", "Barker", "McCarthy", "McDonald", "MacLeod", "O'Brien", "Santos", "Chen",
    "Ali", "Iqbal", "Islam", "Mensah", "Adeyemi", "Popescu", "Lewandowski", "Wiśniewski", "Zieliński",
    "Dąbrowski", "Szymański", "Nowak", "Kowalski", "Russell", "Dixon", "Gaskell", "Rimmer", "Ashworth",
)
# Polish surnames take a feminine form.
FEMININE_SURNAMES: dict[str, str] = {
    "Lewandowski": "Lewandowska", "Wiśniewski": "Wiśniewska", "Zieliński": "Zielińska",
    "Dąbrowski": "Dąbrowska", "Szymański": "Szymańska", "Kowalski": "Kowalska",
}
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"), "William": ("Will", "Bill", "Billy"), "Thomas": ("Tom", "Tommy"),
    "James": ("Jim", "Jamie"), "Michael": ("Mike", "Mick"), "Christopher": ("Chris",),
    "Anthony": ("Tony",), "Richard": ("Rich", "Dick"), "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",),
    "Andrew": ("Andy", "Drew"), "David": ("Dave",), "Jonathan": ("Jon", "Jonny"), "Nicholas": ("Nick",),
    "Alexander": ("Alex", "Xander"), "Samuel": ("Sam",), "Joseph": ("Joe",), "Benjamin": ("Ben",),
    "Edward": ("Ed", "Ted", "Eddie"), "Stephen": ("Steve",), "Peter": ("Pete",), "Zachary": ("Zac",),
    "Frederick": ("Fred",), "Elizabeth": ("Liz", "Beth", "Lizzie"), "Katherine": ("Kate", "Kathy"),
    "Jennifer": ("Jen", "Jenny"), "Rebecca": ("Becky", "Becca"), "Victoria": ("Vicky", "Tori"),
    "Samantha": ("Sam", "Sammy"), "Jacqueline": ("Jackie",), "Deborah": ("Debbie", "Debs"),
    "Christine": ("Chris", "Chrissie"), "Susan": ("Sue",), "Olivia": ("Livvy", "Liv"),
    "Abigail": ("Abbie", "Abi"), "Eleanor": ("Ellie",), "Isabella": ("Bella", "Izzy"),
    "Charlotte": ("Lottie", "Charlie"), "Margaret": ("Maggie",), "Nicola": ("Nicky",),
    "Joanne": ("Jo",), "Matilda": ("Tilly",), "Florence": ("Flo",), "Harriet": ("Hattie",),
}
ALIASES: tuple[str, ...] = ("Jonno", "Gaz", "Baz", "Spud", "Tiny", "Red", "Mac", "Jay", "Kaz", "Shaz")
ASCII_MAP: dict[str, str] = {
    "á": "a", "é": "e", "ë": "e", "ö": "o", "ó": "o", "ł": "l", "Ł": "L", "ś": "s", "Ś": "S",
    "ń": "n", "ą": "a", "ę": "e", "ż": "z", "ź": "z", "ć": "c",
}

# (town, [(locality or "")...], [postcode districts])
TOWNS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Chester", ("", "", "Hoole", "Handbridge", "Vicars Cross", "Upton", "Blacon", "Lache"),
     ("CH1", "CH2", "CH3", "CH4")),
    ("Ellesmere Port", ("", "", "", "Whitby", "Great Sutton", "Little Sutton"), ("CH65", "CH66")),
    ("Northwich", ("", "", "Hartford", "Rudheath", "Winnington", "Leftwich"), ("CW8", "CW9")),
    ("Winsford", ("", "", "Wharton", "Over"), ("CW7",)),
    ("Middlewich", ("", "Kinderton", "Newton Heath"), ("CW10",)),
    ("Frodsham", ("", "", "Five Crosses", "Overton"), ("CH6",)),
    ("Neston", ("", "Parkgate", "Little Neston"), ("CH64",)),
    ("Malpas", ("", "No Mans Heath", "Tilston"), ("CH3", "SY14")),
    ("Tarporley", ("", "Eaton", "Utkinton"), ("CW6",)),
)
TOWN_WEIGHTS: tuple[float, ...] = (0.3, 0.17, 0.17, 0.11, 0.05, 0.06, 0.05, 0.04, 0.05)
STREET_NAMES: tuple[str, ...] = (
    "Church", "Park", "Queens", "Kings", "Victoria", "Station", "Mill", "Grange", "Holly", "Beech",
    "Oak", "Ash", "Rowan", "Linden", "Larch", "Cedar", "Chestnut", "Lime", "Field", "Brook",
    "Spring", "Hope", "Moss", "Rectory", "Watling", "Gladstone", "Fernlea", "Parkgate", "Hartford",
    "Richmond", "York", "Stanley", "Liverpool", "Bridge", "High", "Glenville", "Willow", "Meadow",
    "Alder", "Birch", "Hawthorn", "Hazel", "Elm", "Sycamore", "Poplar", "Laurel", "Heather", "Bramble",
    "Orchard", "Windmill", "Castle", "Abbey", "Chapel", "Vicarage", "School", "Market", "Bank", "Water",
    "Canal", "River", "Wharf", "Dock", "Forge", "Smithy", "Farm", "Hall", "Manor", "Lodge",
    "Albert", "Alexandra", "Edward", "George", "Princess", "Windsor", "Balmoral", "Clarence", "Nelson",
    "Wellington", "Milton", "Shelley", "Tennyson", "Wordsworth", "Darwin", "Newton", "Cromwell", "Grosvenor",
    "Eaton", "Delamere", "Beeston", "Peckforton", "Dee", "Weaver", "Gowy", "Sandy", "Green", "Stone",
    "Fox", "Badger", "Kingfisher", "Heron", "Swallow", "Lark", "Wren", "Sandown", "Kenilworth", "Ludlow",
)
STREET_SUFFIXES: tuple[str, ...] = (
    "Road", "Street", "Lane", "Avenue", "Close", "Court", "Drive", "Grove", "Way", "Crescent",
    "Place", "Gardens", "Mews", "Walk", "View", "Rise",
)

HV_TEAMS: tuple[str, ...] = (
    "Chester Central HV", "Chester South HV", "Ellesmere Port HV", "Northwich HV", "Winsford HV",
    "Rural Cheshire West HV",
)
HV_STAFF: tuple[str, ...] = (
    "Louise Rimmer", "Helen Bowen", "Karen Moss", "Fiona McKenzie", "Kerry Ashworth", "Rachel Dutton",
    "Gemma Leadbetter", "Amanda Gaskell", "Joanne Pritchard", "Sarah Lomas", "Nicola Beech",
)
SN_TEAMS: tuple[str, ...] = ("Chester SN", "Vale Royal SN", "Ellesmere Port & Neston SN")
SN_STAFF: tuple[str, ...] = (
    "Lisa Carroll", "Hannah Birtles", "Sian Edwards", "Deborah Quinn", "Julie Maddock", "Jo Stockton",
    "Paula Henshaw", "Priya Nair",
)
SCHOOLS_PRIMARY: tuple[tuple[str, str], ...] = (
    ("Willaston CE Primary School", "157040"), ("Little Sutton CE Primary School", "111568"),
    ("Malpas Alport Primary School", "121785"), ("Lache Primary School", "128029"),
    ("Hoole CE Primary School", "111422"), ("Winsford High Street Primary", "111190"),
    ("Frodsham Manor House Primary", "135011"), ("Hartford Primary School", "111301"),
    ("Neston Primary School", "139870"), ("Upton Heath CE Primary", "111519"),
)
SCHOOLS_SECONDARY: tuple[tuple[str, str], ...] = (
    ("The Winsford Academy", "132050"), ("Ellesmere Port Catholic High School", "151236"),
    ("Frodsham School", "130903"), ("Upton-by-Chester High School", "136317"),
    ("Hartford High School", "137244"), ("Neston High School", "136553"),
    ("The Queen's Park High School", "142067"), ("Sir John Deane's Sixth Form College", "130628"),
)
CAMHS_TEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("West Cheshire CAMHS", ("Aisling Byrne", "Dr Emma Haworth", "Tom Fairclough")),
    ("Vale Royal CAMHS", ("Naomi Fletcher", "Ben Atherton", "Tom Fairclough")),
)
GP_PRACTICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("N81001", ("Dr A Shah", "Dr J Morgan", "Dr K Liddell")),
    ("N81002", ("Dr P Evans", "Dr R Hale", "Dr S Okafor")),
    ("N81005", ("Dr G Lloyd",)),
    ("N81006", ("Dr B Hughes", "Dr N Rahman", "Dr W Kerr")),
    ("N81007", ("Dr A Desai", "Dr J Whitehead", "Dr V Moss")),
    ("N81008", ("Dr C Doyle", "Dr R Tan", "Dr S Bell")),
    ("N81009", ("Dr K Iqbal", "Dr L Fenton", "Dr M Pugh")),
    ("N81010", ("Dr D Slater", "Dr H Rowe", "Dr P Singh")),
    ("N81011", ("Dr E Gallagher", "Dr J Reeve", "Dr O Mensah")),
    ("N81012", ("Dr A Hart", "Dr S Kowalski", "Dr T Boyd")),
)
GP_NURSES: tuple[str, ...] = ("Nurse P Grant", "Nurse M Fox", "Nurse K Jones", "ANP R Cole", "HCA L Webb")
GP_SLOTS_CLIN: tuple[str, ...] = ("GP Appointment", "Telephone Consultation")
GP_SLOTS_NURSE: tuple[str, ...] = ("Nurse Appointment", "Blood Test", "Childhood Immunisation")
DENTAL_PRACTICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Ellesmere Port Smile Centre", ("Dr J Clegg", "Dr R Hussain")),
    ("Frodsham Dental Practice", ("Dr E Price", "Dr K Zielinska")),
    ("Hoole Road Dental Practice", ("Dr M Kaur",)),
    ("Middlewich Dental Care", ("Dr H Bradshaw",)),
    ("Neston Dental Surgery", ("Dr C Lunt",)),
    ("Northgate Dental Care", ("Dr P Byrne", "Dr S Ng")),
    ("Northwich Dental Studio", ("Dr G Ahmed", "Dr L Moran")),
    ("Winsford Family Dental", ("Dr T Wade",)),
)
DENTAL_TREATMENTS: tuple[str, ...] = (
    "Check-up", "Examination", "Extraction", "Filling", "Fluoride Varnish", "Scale and Polish", "X-ray",
)
TP_KEYWORKERS: tuple[str, ...] = ("Chantelle Reid", "Shelley Barton", "Gavin Pye", "Tasha Kirby", "Dean Moult")
TP_SUBSTANCES: tuple[str, ...] = (
    "Alcohol", "Alcohol", "Alcohol", "Heroin", "Crack cocaine", "Cocaine", "Cannabis", "Ketamine",
    "Benzodiazepines",
)
AMH_TEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CMHT Chester", ("Alan Whittaker", "Clare Dunbar", "Rhian Jenkins")),
    ("CMHT Vale Royal", ("Gillian Pearce", "Dr Nkechi Eze")),
    ("CMHT Ellesmere Port", ("Mark Aldred", "Jenny Platt")),
    ("Early Intervention in Psychosis", ("Mohsin Qureshi", "Rhian Jenkins")),
    ("Primary Care Mental Health", ("Gillian Pearce", "Sam Okoro")),
)
