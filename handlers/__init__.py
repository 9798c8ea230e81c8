"""Feature modules, one per feature. `default_features()` is what a running bot loads."""

from __future__ import annotations

from bot.feature import Feature


def default_features() -> list[Feature]:
    from handlers.badges import BadgesFeature
    from handlers.campaigns import CampaignsFeature
    from handlers.checkin import CheckinFeature
    from handlers.digest import DigestFeature
    from handlers.exports import ExportsFeature
    from handlers.faq import FaqFeature
    from handlers.help import HelpFeature
    from handlers.lifecycle import LifecycleFeature
    from handlers.locks import LocksFeature
    from handlers.maintenance import MaintenanceFeature
    from handlers.moderation import ModerationFeature
    from handlers.needs import NeedsFeature
    from handlers.onboarding import OnboardingFeature
    from handlers.points import PointsFeature
    from handlers.recall import RecallFeature
    from handlers.settings import SettingsFeature
    from handlers.shop import ShopFeature
    from handlers.tools import ToolsFeature
    from handlers.verification import VerificationFeature
    from handlers.welcome import WelcomeFeature

    return [
        LocksFeature(),
        ModerationFeature(),
        VerificationFeature(),
        WelcomeFeature(),
        OnboardingFeature(),
        CheckinFeature(),
        PointsFeature(),
        ShopFeature(),
        NeedsFeature(),
        BadgesFeature(),
        LifecycleFeature(),
        RecallFeature(),
        CampaignsFeature(),
        DigestFeature(),
        ExportsFeature(),
        ToolsFeature(),
        FaqFeature(),
        SettingsFeature(),
        HelpFeature(),
        MaintenanceFeature(),
    ]
