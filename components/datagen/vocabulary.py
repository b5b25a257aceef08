"""The synthetic world's vocabulary: topics of concepts, each concept with several surface forms.

Why hand-written: realistic words make the data readable in reports and give the ranker real
synonymy to learn. Relevance is decided on *concepts*, text is written with *surface forms*, so a
relevant title often says the same thing with other words than the query (BM25 misses it), while
polysemous surface forms ("python", "jaguar", "mouse", "bass", "keyboard", "apple") give hard
negatives that share words with the query but belong to another topic. A few accented words
("crème brûlée", "jalapeño", "pokémon", "são paulo", "naïve bayes") exercise Unicode normalisation.
"""

from __future__ import annotations

# topic -> (topic words used in descriptions, {concept: surface forms, most common first})
TOPICS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "programming": (
        ("coding", "software", "developer", "programming"),
        {
            "python": ("python", "py", "python 3"),
            "javascript": ("javascript", "js", "node"),
            "sql": ("sql", "database queries", "postgres"),
            "api": ("api", "rest endpoint", "web service"),
            "debugging": ("debugging", "fixing bugs", "troubleshooting"),
            "machine_learning": ("machine learning", "ml", "ai models"),
            "git": ("git", "version control", "branches"),
            "docker": ("docker", "containers", "kubernetes"),
            "naive_bayes": ("naïve bayes", "naive bayes", "bayes classifier"),
            "keyboard": ("keyboard shortcuts", "hotkeys", "keyboard"),
        },
    ),
    "wildlife": (
        ("animals", "nature", "wildlife", "safari"),
        {
            "snake": ("python", "snake", "serpent"),
            "big_cat": ("jaguar", "leopard", "big cat"),
            "mouse": ("mouse", "rodent", "field mouse"),
            "whale": ("whale", "orca", "humpback"),
            "birds": ("birds", "parrot", "eagle"),
            "shark": ("shark", "great white", "hammerhead"),
            "bear": ("bear", "grizzly", "polar bear"),
            "fox": ("fox", "red fox", "arctic fox"),
        },
    ),
    "cars": (
        ("car", "automotive", "driving", "vehicle"),
        {
            "jaguar": ("jaguar", "jaguar f-type", "luxury sports car"),
            "electric_car": ("electric car", "ev", "tesla"),
            "engine": ("engine", "motor", "v8"),
            "tires": ("tires", "tyres", "wheels"),
            "oil_change": ("oil change", "engine oil", "oil service"),
            "racing": ("racing", "motorsport", "formula 1"),
            "hybrid": ("hybrid", "plug-in hybrid", "prius"),
            "road_trip": ("road trip", "scenic drive", "driving route"),
        },
    ),
    "cooking": (
        ("recipe", "kitchen", "cooking", "food"),
        {
            "pasta": ("pasta", "spaghetti", "carbonara"),
            "bread": ("bread", "sourdough", "loaf"),
            "apple_pie": ("apple pie", "apple tart", "apple crumble"),
            "creme_brulee": ("crème brûlée", "creme brulee", "custard dessert"),
            "jalapeno": ("jalapeño", "chili pepper", "spicy pepper"),
            "coffee": ("coffee", "espresso", "café latte"),
            "curry": ("curry", "masala", "tikka"),
            "steak": ("steak", "ribeye", "beef"),
            "sushi": ("sushi", "maki rolls", "sashimi"),
        },
    ),
    "music": (
        ("music", "song", "musician", "band"),
        {
            "guitar": ("guitar", "acoustic guitar", "six-string"),
            "bass_guitar": ("bass", "bass guitar", "bass lines"),
            "piano": ("piano", "keyboard", "grand piano"),
            "drums": ("drums", "drum kit", "percussion"),
            "chords": ("chords", "chord progression", "harmony"),
            "singing": ("singing", "vocals", "voice training"),
            "jazz": ("jazz", "swing", "bebop"),
            "rock": ("rock", "classic rock", "riffs"),
        },
    ),
    "fitness": (
        ("workout", "fitness", "training", "health"),
        {
            "yoga": ("yoga", "stretching", "flexibility"),
            "running": ("running", "jogging", "marathon"),
            "weight_loss": ("weight loss", "fat loss", "slimming"),
            "push_ups": ("push ups", "press ups", "chest workout"),
            "abs": ("abs", "core workout", "six pack"),
            "hiit": ("hiit", "interval training", "tabata"),
            "squats": ("squats", "leg day", "glutes"),
        },
    ),
    "gaming": (
        ("gaming", "video game", "gameplay", "gamer"),
        {
            "minecraft": ("minecraft", "redstone", "survival world"),
            "pokemon": ("pokémon", "pokemon", "pikachu"),
            "speedrun": ("speedrun", "any percent", "world record run"),
            "zelda": ("zelda", "breath of the wild", "hyrule"),
            "chess": ("chess", "chess openings", "endgame"),
            "gaming_mouse": ("gaming mouse", "mouse", "dpi"),
            "mech_keyboard": ("mechanical keyboard", "keyboard", "switches"),
        },
    ),
    "finance": (
        ("money", "finance", "investing", "economy"),
        {
            "stocks": ("stocks", "shares", "equities"),
            "budget": ("budget", "budgeting", "saving money"),
            "crypto": ("crypto", "bitcoin", "ethereum"),
            "taxes": ("taxes", "tax return", "deductions"),
            "mortgage": ("mortgage", "home loan", "interest rates"),
            "retirement": ("retirement", "pension", "401k"),
            "apple_stock": ("apple stock", "aapl", "apple shares"),
        },
    ),
    "travel": (
        ("travel", "trip", "vacation", "tourism"),
        {
            "paris": ("paris", "france", "eiffel tower"),
            "tokyo": ("tokyo", "japan", "shibuya"),
            "backpacking": ("backpacking", "budget travel", "hostel life"),
            "hotels": ("hotels", "resorts", "where to stay"),
            "flights": ("flights", "cheap airfare", "airline"),
            "sao_paulo": ("são paulo", "sao paulo", "brazil"),
            "packing": ("packing", "carry-on", "luggage"),
        },
    ),
    "diy": (
        ("diy", "home improvement", "renovation", "tools"),
        {
            "woodworking": ("woodworking", "carpentry", "wood joints"),
            "painting": ("painting walls", "paint", "primer"),
            "plumbing": ("plumbing", "leaky faucet", "pipes"),
            "garden": ("garden", "gardening", "vegetable patch"),
            "tiles": ("tiles", "tiling", "grout"),
            "shelves": ("shelves", "shelving", "floating shelf"),
        },
    ),
    "fishing": (
        ("fishing", "angling", "outdoors", "lake"),
        {
            "bass_fish": ("bass", "largemouth bass", "bass fishing"),
            "fly_fishing": ("fly fishing", "fly casting", "dry flies"),
            "lures": ("lures", "baits", "crankbait"),
            "trout": ("trout", "rainbow trout", "brook trout"),
            "kayak": ("kayak", "boat", "canoe"),
        },
    ),
    "space": (
        ("space", "astronomy", "science", "universe"),
        {
            "black_holes": ("black holes", "event horizon", "singularity"),
            "mars": ("mars", "red planet", "rover"),
            "telescope": ("telescope", "stargazing", "james webb"),
            "rockets": ("rockets", "rocket launch", "starship"),
            "quantum": ("quantum physics", "quantum mechanics", "physics"),
        },
    ),
}

# intent -> surface forms used in queries and titles (the same intent, said differently)
INTENTS: dict[str, tuple[str, ...]] = {
    "tutorial": ("tutorial", "how to", "guide", "for beginners", "lesson", "step by step"),
    "review": ("review", "worth it", "honest review", "comparison", "pros and cons"),
    "highlights": ("highlights", "best moments", "compilation", "top 10"),
    "news": ("news", "latest", "2026 update", "what's new"),
    "explained": ("explained", "documentary", "deep dive", "the science of"),
    "live": ("live", "livestream", "full stream", "live session"),
}

# sentences that signal an intent in descriptions (never the same words as the title's intent)
INTENT_SENTENCES: dict[str, tuple[str, ...]] = {
    "tutorial": ("Follow along step by step.", "Learn the basics and practise with me.", "A beginner-friendly walkthrough."),
    "review": ("I tested it for a month, here is my verdict.", "Is it worth your money?", "Pros, cons and a final score."),
    "highlights": ("The best clips in one video.", "All the top moments, back to back.", "A quick recap of the best parts."),
    "news": ("Everything that changed this week.", "Breaking updates and what they mean.", "The latest announcements."),
    "explained": ("We break down how it really works.", "An in-depth look with experts.", "The story behind it, explained."),
    "live": ("Recorded live with chat.", "Join the stream every Friday.", "Unedited live broadcast."),
}

TITLE_FILLERS = ("ultimate", "2026", "in 10 minutes", "part 2", "full", "easy", "pro tips", "must see", "quick", "complete")
CLICKBAIT = ("YOU WON'T BELIEVE", "SHOCKING", "gone wrong", "!!!", "(not clickbait)")
DESCRIPTION_FILLERS = (
    "Subscribe for more.",
    "Links in the comments.",
    "Timestamps below.",
    "Thanks for watching!",
    "New videos every week.",
    "Filmed in 4K.",
)
CHANNEL_WORDS = ("Studio", "Lab", "Academy", "Daily", "Hub", "TV", "Corner", "Workshop", "Nerd", "Club")
ANNOTATORS = tuple(f"ann{i:02d}" for i in range(1, 9))
NOISY_ANNOTATORS = ("ann07", "ann08")

# Vocabulary that only `--drift` brings in (components.datagen.drift): topics nobody searched for in
# the reference period, with their own concepts and words. The base world never draws from them.
EMERGING_TOPICS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "ai_tools": (
        ("ai", "productivity", "automation", "tech"),
        {
            "chatbots": ("chatgpt", "ai chatbot", "chat assistant"),
            "prompting": ("prompt engineering", "prompts", "prompt templates"),
            "image_generation": ("midjourney", "ai art", "image generator"),
            "coding_assistant": ("copilot", "ai pair programmer", "code assistant"),
            "agents": ("ai agents", "autonomous agents", "agentic workflows"),
            "local_models": ("local llm", "ollama", "open weights"),
        },
    ),
    "pickleball": (
        ("pickleball", "paddle sports", "court", "rally"),
        {
            "dinks": ("dinking", "kitchen line", "soft game"),
            "serve": ("pickleball serve", "drop serve", "spin serve"),
            "paddles": ("pickleball paddle", "carbon paddle", "paddle grip"),
            "doubles": ("doubles strategy", "stacking", "partner play"),
            "footwork": ("split step", "court footwork", "ready position"),
        },
    ),
}
ALL_TOPICS = {**TOPICS, **EMERGING_TOPICS}

# Short-form videos (what `--drift` adds to the catalogue): hashtag tags and titles, one-line descriptions.
HASHTAGS = ("#shorts", "#fyp", "#viral", "#trending", "#learnontiktok", "#howto", "#tips", "#foryou", "#reels", "#hack")
SHORT_HOOKS = ("in 60 seconds", "one trick", "wait for it", "part 1", "quick tip", "pov", "watch this")
