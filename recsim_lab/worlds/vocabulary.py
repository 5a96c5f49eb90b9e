"""Words for the synthetic world's item texts: topics, each with subtopics, each with its own words.

An item's headline and description are built mostly from its subtopic's words, some of its topic's other
words, and a little noise from other topics, so text similarity follows the hidden topic structure.
"""

from __future__ import annotations

# topic name -> subtopics, each a tuple of words used in that subtopic's texts
TOPICS: dict[str, tuple[tuple[str, ...], ...]] = {
    "POLITICS": (
        ("election", "ballot", "voters", "campaign", "polls", "candidate"),
        ("senate", "congress", "bill", "lawmakers", "vote", "filibuster"),
        ("president", "white house", "administration", "cabinet", "veto", "executive order"),
        ("supreme court", "justices", "ruling", "constitution", "appeal", "judge"),
    ),
    "SPORTS": (
        ("football", "quarterback", "touchdown", "playoffs", "coach", "stadium"),
        ("basketball", "dunk", "point guard", "rebounds", "finals", "arena"),
        ("tennis", "grand slam", "serve", "wimbledon", "racket", "tiebreak"),
        ("olympics", "gold medal", "sprinter", "swimmer", "world record", "relay"),
    ),
    "TECH": (
        ("smartphone", "app", "battery", "touchscreen", "update", "android"),
        ("artificial intelligence", "chatbot", "neural network", "algorithm", "robot", "automation"),
        ("cybersecurity", "hackers", "data breach", "password", "ransomware", "encryption"),
        ("startup", "venture capital", "silicon valley", "founder", "funding round", "unicorn"),
    ),
    "HEALTH": (
        ("vaccine", "virus", "pandemic", "booster", "infection", "outbreak"),
        ("diet", "nutrition", "vitamins", "sugar", "protein", "calories"),
        ("mental health", "anxiety", "therapy", "depression", "stress", "sleep"),
        ("fitness", "workout", "running", "yoga", "strength training", "marathon"),
    ),
    "BUSINESS": (
        ("stocks", "wall street", "investors", "shares", "rally", "dow"),
        ("inflation", "interest rates", "central bank", "recession", "economy", "prices"),
        ("retail", "shoppers", "store", "holiday sales", "e-commerce", "discount"),
        ("jobs", "unemployment", "workers", "wages", "union", "layoffs"),
    ),
    "ENTERTAINMENT": (
        ("movie", "box office", "director", "sequel", "premiere", "trailer"),
        ("music", "album", "singer", "concert", "tour", "chart"),
        ("television", "series", "streaming", "season finale", "showrunner", "episode"),
        ("celebrity", "red carpet", "awards", "oscars", "gossip", "interview"),
    ),
    "SCIENCE": (
        ("space", "nasa", "rocket", "mars", "astronauts", "telescope"),
        ("physics", "quantum", "particle", "experiment", "laboratory", "theory"),
        ("biology", "genes", "dna", "evolution", "species", "cells"),
        ("archaeology", "fossils", "ancient", "excavation", "dinosaur", "tomb"),
    ),
    "TRAVEL": (
        ("flights", "airline", "airport", "passengers", "delays", "tickets"),
        ("hotel", "resort", "vacation", "beach", "island", "booking"),
        ("road trip", "national park", "hiking", "camping", "mountains", "trail"),
        ("city guide", "museum", "landmarks", "tourists", "old town", "walking tour"),
    ),
    "FOOD": (
        ("recipe", "baking", "bread", "oven", "dessert", "cookies"),
        ("restaurant", "chef", "menu", "dining", "tasting", "michelin"),
        ("wine", "cocktail", "beer", "vineyard", "brewery", "bartender"),
        ("vegan", "plant based", "salad", "vegetables", "tofu", "grains"),
    ),
    "ENVIRONMENT": (
        ("climate change", "emissions", "carbon", "warming", "heat wave", "glaciers"),
        ("wildfire", "drought", "flood", "hurricane", "storm", "evacuation"),
        ("solar", "wind power", "renewable", "electric cars", "batteries", "grid"),
        ("wildlife", "endangered", "conservation", "forest", "oceans", "coral reef"),
    ),
    "EDUCATION": (
        ("school", "teachers", "classroom", "students", "curriculum", "principal"),
        ("college", "university", "tuition", "admissions", "campus", "degree"),
        ("student loans", "debt", "scholarship", "financial aid", "grants", "repayment"),
        ("online learning", "homework", "reading", "tutoring", "exams", "literacy"),
    ),
    "CRIME": (
        ("police", "arrest", "suspect", "investigation", "detectives", "charges"),
        ("trial", "jury", "verdict", "prosecutors", "sentence", "testimony"),
        ("fraud", "scam", "embezzlement", "money laundering", "indictment", "bribery"),
        ("prison", "inmates", "parole", "jail", "reform", "release"),
    ),
}

HEADLINE_TEMPLATES: tuple[str, ...] = (
    "{a} and {b}: what to know",
    "Why {a} matters for {b}",
    "The {a} story everyone is talking about",
    "{a} meets {b} in a surprising turn",
    "How {a} is changing {b}",
    "New report on {a} raises questions about {b}",
    "{a}: 5 things to watch this week",
    "Inside the fight over {a}",
    "What {a} means for {b} now",
    "{a} takes center stage as {b} heats up",
)

DESCRIPTION_TEMPLATES: tuple[str, ...] = (
    "Experts weigh in on {a}, {b} and {c}.",
    "A closer look at {a} after news about {b} and {c}.",
    "From {a} to {b}, here is what {c} could mean.",
    "{a} is back in the spotlight, with {b} and {c} close behind.",
    "Readers asked about {a}; we looked at {b} and {c}.",
)
