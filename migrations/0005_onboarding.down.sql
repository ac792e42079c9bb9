DROP TABLE onboarding_steps;
